"""Who plays when: the spans of a song in which each stem is audible.

A stem's level is its RMS in dB over short frames, smoothed over a few hundred
milliseconds. A span starts where the level rises above ``on_db`` and lasts until
it falls below ``off_db`` (hysteresis: a level wobbling around one threshold does
not flicker). Both thresholds are relative: to the stem's own loud passages (its
95th-percentile level), and never below ``floor_db`` under the mix's loud passages,
so a stem that is only bleed from another in a separation stays silent. Gaps
shorter than ``min_gap`` are closed and spans shorter than ``min_span`` dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from stemdesk.audio import Audio

FRAME_SECONDS = 0.05
_SILENT_DB = -120.0


@dataclass(frozen=True)
class ActivitySettings:
    """Thresholds (dB relative to the stem's loud level) and durations (s) of :func:`stem_activity`."""

    on_db: float = -20.0
    off_db: float = -30.0
    floor_db: float = -40.0
    smoothing: float = 0.4
    min_gap: float = 1.0
    min_span: float = 1.0


def stem_activity(stems: Mapping[str, Audio], settings: ActivitySettings = ActivitySettings()
                  ) -> dict[str, list[tuple[float, float]]]:
    """For each stem (name -> Audio, all of one song), its audible spans as ``(start, end)``
    seconds, in order; a silent stem gets an empty list."""
    if not stems:
        return {}
    levels = {name: frame_levels(audio) for name, audio in stems.items()}
    frames = min(len(level) for level in levels.values())
    if frames == 0:
        return {name: [] for name in stems}
    rate = next(iter(stems.values())).rate
    length = min(audio.num_samples for audio in stems.values())
    mix = frame_levels(Audio(sum(audio.samples[:, :length] for audio in stems.values()), rate))
    mix_loud = float(np.percentile(mix[:frames], 95))
    return {name: active_spans(level[:frames], mix_loud, settings) for name, level in levels.items()}


def frame_levels(audio: Audio) -> np.ndarray:
    """RMS level in dB of ``audio`` over :data:`FRAME_SECONDS` frames (all channels), float64 ``(frames,)``."""
    hop = max(int(round(FRAME_SECONDS * audio.rate)), 1)
    frames = audio.num_samples // hop
    if frames == 0:
        return np.empty(0)
    power = np.mean(audio.samples[:, : frames * hop].reshape(audio.channels, frames, hop).astype(np.float64) ** 2,
                    axis=(0, 2))
    return 10 * np.log10(np.maximum(power, 10 ** (_SILENT_DB / 10)))


def active_spans(level: np.ndarray, mix_loud: float, settings: ActivitySettings = ActivitySettings()
                 ) -> list[tuple[float, float]]:
    """Spans ``(start, end)`` s where ``level`` (dB per :data:`FRAME_SECONDS` frame, ``(frames,)``)
    is audible, with hysteresis between the on and off thresholds; ``mix_loud`` is the mix's loud level (dB)."""
    if not len(level):
        return []
    width = max(int(round(settings.smoothing / FRAME_SECONDS)), 1)
    # Averaged in power, not dB: a note's decay should not pull a loud frame down.
    power = scipy.ndimage.uniform_filter1d(10 ** (level / 10), width, mode="nearest")
    smooth = 10 * np.log10(np.maximum(power, 10 ** (_SILENT_DB / 10)))
    loud = float(np.percentile(smooth, 95))
    floor = mix_loud + settings.floor_db
    on = smooth > max(loud + settings.on_db, floor)
    above_off = smooth > max(loud + settings.off_db, floor)
    # Hysteresis: a region above the off threshold is active if it reaches the on threshold.
    regions, _ = scipy.ndimage.label(above_off)
    active = np.isin(regions, np.unique(regions[on])) & (regions > 0)
    gap = max(int(round(settings.min_gap / FRAME_SECONDS)), 1)
    # Padded so that closing does not treat the song's ends as gaps.
    active = scipy.ndimage.binary_closing(np.pad(active, gap), np.ones(gap + 1, bool))[gap:-gap]
    regions, _ = scipy.ndimage.label(active)
    spans = [(found.start * FRAME_SECONDS, found.stop * FRAME_SECONDS) for (found,) in scipy.ndimage.find_objects(regions)]
    return [(start, end) for start, end in spans if end - start >= settings.min_span]
