"""Where a stem sounds, and silence adjustment: cut the regions where the target is silent
so a training example is not mostly silence for the instrument being learnt.

A bass that rests through a 16-bar intro teaches a bass model only to output nothing;
the research behind stemdesk trimmed such regions. Every stem of a song is cut at the
same places, with the same short fades at each joint, so the kept stems still sum to
the kept mixture (up to float rounding: both operations are linear and shared).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: A frame quieter than this (RMS over channels, dB relative to full scale) is silent.
SILENCE_DB = -50.0


def active_frames(audio: np.ndarray, rate: int, frame_seconds: float = 0.05, threshold_db: float = SILENCE_DB) -> np.ndarray:
    """Per frame of ``frame_seconds``, whether ``audio`` (``(channels, samples)``) sounds.

    Returns a bool array of ``ceil(samples / frame)`` frames; the last may be partial.
    """
    frame = max(1, round(frame_seconds * rate))
    count = -(-audio.shape[1] // frame)
    padded = np.zeros((audio.shape[0], count * frame), np.float32)
    padded[:, : audio.shape[1]] = audio
    power = np.square(padded).reshape(audio.shape[0], count, frame).mean(axis=(0, 2))
    return power > 10 ** (threshold_db / 10)


def active_fraction(audio: np.ndarray, rate: int, frame_seconds: float = 0.05, threshold_db: float = SILENCE_DB) -> float:
    """Fraction (0-1) of ``audio``'s frames that are not silent."""
    frames = active_frames(audio, rate, frame_seconds, threshold_db)
    return float(frames.mean()) if frames.size else 0.0


def trim_target_silence(
    stems: Mapping[str, np.ndarray],
    target: str,
    rate: int,
    min_active: float = 0.9,
    rng: np.random.Generator | None = None,
    frame_seconds: float = 0.05,
    fade_seconds: float = 0.005,
) -> dict[str, np.ndarray]:
    """Stems cut down so that the ``target`` stem is active in at least ``min_active`` of them.

    ``stems`` maps names to float32 ``(channels, samples)`` arrays of one length. All
    active frames of the target are kept, in order; of its silent stretches, whole or in
    part, only as many frames as ``min_active`` allows (chosen at random by ``rng``, or
    the earliest without one), because some silence teaches the model to output silence.
    Each joint gets a ``fade_seconds`` fade out and in, applied to every stem alike.
    Stems whose target is already active enough, or never active, come back unchanged.
    """
    if target not in stems:
        raise KeyError(f"no stem '{target}' among {sorted(stems)}")
    length = stems[target].shape[1]
    frame = max(1, round(frame_seconds * rate))
    active = active_frames(stems[target], rate, frame_seconds)
    if not active.any() or active.mean() >= min_active:
        return dict(stems)
    budget = int(active.sum() * (1 - min_active) / min_active)
    keep = active.copy()
    silent_runs = _runs(~active)
    order = rng.permutation(len(silent_runs)) if rng is not None else range(len(silent_runs))
    for index in order:
        if budget <= 0:
            break
        start, stop = silent_runs[index]
        taken = min(budget, stop - start)
        keep[start : start + taken] = True
        budget -= taken
    segments = [(start * frame, min(stop * frame, length)) for start, stop in _runs(keep)]
    envelope = _joint_fades(segments, round(fade_seconds * rate))
    return {
        name: np.concatenate([audio[:, start:stop] for start, stop in segments], axis=1) * envelope
        for name, audio in stems.items()
    }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in a bool array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _joint_fades(segments: list[tuple[int, int]], fade: int) -> np.ndarray:
    """Gain of the concatenated segments: 1, with linear fades on both sides of each joint."""
    pieces = []
    for number, (start, stop) in enumerate(segments):
        gain = np.ones(stop - start, np.float32)
        ramp = min(fade, (stop - start) // 2)
        rise = (np.arange(ramp, dtype=np.float32) + 0.5) / max(ramp, 1)
        if ramp and number > 0:
            gain[:ramp] = rise
        if ramp and number < len(segments) - 1:
            gain[-ramp:] = rise[::-1]
        pieces.append(gain)
    return np.concatenate(pieces)
