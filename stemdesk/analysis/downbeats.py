"""Meter and downbeat phase of a tracked beat sequence.

Three cues mark the first beat of a bar in most music: the kick drum and the bass
land on it (low-frequency onsets), the harmony changes on it (chroma novelty), and
it is played louder (accent). Each beat gets a downbeat score from these cues; the
meter is the bar length (3 or 4 beats) at which the bar-level repetition of the
harmony and the rhythm pattern is strongest and the downbeat scores stand out
most clearly in one phase; the phase is the one whose beats score highest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from stemdesk.analysis.beats import OnsetFeatures

METERS = (3, 4)
#: 4/4 is far more common: 3 has to win by this much evidence.
TRIPLE_MARGIN = 0.15
_NEAR_SECONDS = 0.04


def find_downbeats(beats: np.ndarray, features: OnsetFeatures) -> tuple[int, int]:
    """``(meter, first_downbeat)`` for ``beats`` (float64 ``(n,)`` seconds, n >= 2).

    ``first_downbeat`` is the index (< meter) of the first beat that starts a bar.
    """
    frames = np.clip(np.round(beats * features.fps).astype(int), 0, len(features.onsets) - 1)
    score = downbeat_scores(frames, features)
    chroma = _beat_chroma(frames, features.chroma)
    pattern = _beat_patterns(frames, features)
    evidence = {}
    phases = {}
    for meter in METERS:
        means = np.array([np.mean(score[phase::meter]) for phase in range(meter)])
        phases[meter] = int(np.argmax(means))
        contrast = means.max() - np.median(np.delete(means, phases[meter]))
        evidence[meter] = contrast + _repetition(chroma, meter) + _repetition(pattern, meter)
    meter = 3 if evidence[3] > evidence[4] + TRIPLE_MARGIN else 4
    return meter, phases[meter]


def downbeat_scores(frames: np.ndarray, features: OnsetFeatures) -> np.ndarray:
    """How much each beat (int ``(n,)`` frames) looks like a downbeat, float64 ``(n,)``, z-scored cues summed."""
    near = max(int(_NEAR_SECONDS * features.fps), 1)
    low = _around(features.low, frames, near)
    accent = _around(features.loudness, frames, 2 * near)
    chroma = _beat_chroma(frames, features.chroma)
    before = (chroma + np.roll(chroma, 1, axis=0)) / 2
    after = (chroma + np.roll(chroma, -1, axis=0)) / 2
    novelty = 1.0 - np.sum(_unit(np.roll(before, 1, axis=0)) * _unit(after), axis=1)
    novelty[:2] = np.median(novelty)
    return _z(low) + _z(novelty) + 0.5 * _z(accent)


def _repetition(vectors: np.ndarray, meter: int) -> float:
    """Mean cosine similarity of each beat's vector (``(n, d)``) to the one a bar later and
    two bars later, relative to the mean over other bar lengths' lags."""
    def similarity(lag: int) -> float:
        if len(vectors) <= lag:
            return 0.0
        return float(np.mean(np.sum(_unit(vectors[:-lag]) * _unit(vectors[lag:]), axis=1)))

    own = (similarity(meter) + similarity(2 * meter)) / 2
    others = [similarity(lag) for lag in (3, 4, 6, 8) if lag % meter]
    return own - float(np.mean(others))


def _beat_chroma(frames: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Mean chroma from each beat to the next, ``(n, 12)``."""
    bounds = np.append(frames, chroma.shape[1])
    sums = np.add.reduceat(chroma, np.minimum(bounds[:-1], chroma.shape[1] - 1), axis=1).T
    counts = np.maximum(np.diff(bounds), 1)[:, None]
    return sums / counts


def _beat_patterns(frames: np.ndarray, features: OnsetFeatures) -> np.ndarray:
    """Each beat's rhythm: mix and low onsets at its four sixteenths, ``(n, 8)``."""
    intervals = np.diff(frames, append=frames[-1] + np.median(np.diff(frames)) if len(frames) > 1 else frames[-1] + 1)
    positions = frames[:, None] + intervals[:, None] * np.arange(4)[None, :] / 4
    positions = np.clip(np.round(positions).astype(int), 0, len(features.onsets) - 1)
    return np.concatenate([features.onsets[positions], features.low[positions]], axis=1).astype(np.float64)


def _around(values: np.ndarray, frames: np.ndarray, near: int) -> np.ndarray:
    window = np.clip(frames[:, None] + np.arange(-near, near + 1)[None, :], 0, len(values) - 1)
    return values[window].max(axis=1).astype(np.float64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


def _z(values: np.ndarray) -> np.ndarray:
    """Robust z-scores (median and scaled median absolute deviation), clipped to +-3:
    a beat in silence at the song's end must not squash every other beat's score."""
    centre = np.median(values)
    spread = 1.4826 * np.median(np.abs(values - centre))
    if spread <= 1e-12:
        spread = np.std(values)
    return np.clip((values - centre) / spread, -3.0, 3.0) if spread > 1e-12 else np.zeros_like(values)
