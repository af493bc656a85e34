"""Meter and downbeat phase of a tracked beat sequence.

Three cues mark the first beat of a bar in most music: the kick drum and the bass
land on it (low-frequency onsets), the harmony changes on it (chroma novelty), and
it is played louder (accent). Each beat gets a downbeat score from these cues; the
meter is the bar length (3 or 4 beats) at which the bar-level repetition of the
harmony and the rhythm pattern is strongest and the downbeat scores stand out
most clearly in one phase; the phase is the one whose beats score highest.
"""

from __future__ import annotations

import numpy as np

from stemdesk.analysis.features import CHROMA_FFT, CHROMA_STEP, HOP, OnsetFeatures

METERS = (3, 4)
#: 4/4 is far more common: 3 has to win by this much evidence.
TRIPLE_MARGIN = 0.15
_NEAR_SECONDS = 0.04
CUE_WEIGHTS = {"low": 0.5, "harmony": 1.0, "accent": 1.0}
#: Cosine distance of beat chroma across a typical chord change, and a typical accent (dB).
CHORD_CHANGE, ACCENT_DB = 0.15, 3.0


def find_downbeats(beats: np.ndarray, features: OnsetFeatures) -> tuple[int, int]:
    """``(meter, first_downbeat)`` for ``beats`` (float64 ``(n,)`` seconds, n >= 2).

    ``first_downbeat`` is the index (< meter) of the first beat that starts a bar.
    """
    frames = np.clip(np.round(beats * features.fps).astype(int), 0, len(features.onsets) - 1)
    cues = downbeat_cues(frames, features)
    score = sum(CUE_WEIGHTS[name] * cue for name, cue in cues.items())
    chroma = _beat_chroma(frames // CHROMA_STEP, features.chroma, CHROMA_FFT // (2 * HOP * CHROMA_STEP))
    pattern = _beat_patterns(frames, features)
    evidence = {}
    for meter in METERS:
        means = _phase_means(score, meter)
        contrast = means.max() - np.median(np.delete(means, np.argmax(means)))
        evidence[meter] = contrast + _repetition(chroma, meter) + _repetition(pattern, meter)
    meter = 3 if evidence[3] > evidence[4] + TRIPLE_MARGIN else 4
    return meter, int(np.argmax(_phase_means(score, meter)))


def downbeat_cues(frames: np.ndarray, features: OnsetFeatures) -> dict[str, np.ndarray]:
    """Per beat (int ``(n,)`` frames): low-frequency onset, harmonic change and accent, float64 ``(n,)`` each.

    The low onsets (in arbitrary units) are z-scored; harmonic change and accent are
    scaled by fixed amounts instead (a chord change, 3 dB), so a cue that hardly
    varies (the harmony of a click track) stays small instead of being blown up
    to unit variance by its own noise.
    """
    near = max(int(_NEAR_SECONDS * features.fps), 1)
    low = _around(features.low, frames, near)
    accent = _around(features.loudness, frames, 2 * near)
    chroma = _beat_chroma(frames // CHROMA_STEP, features.chroma, CHROMA_FFT // (2 * HOP * CHROMA_STEP))
    before = (chroma + np.roll(chroma, 1, axis=0)) / 2
    after = (chroma + np.roll(chroma, -1, axis=0)) / 2
    novelty = 1.0 - np.sum(_unit(np.roll(before, 1, axis=0)) * _unit(after), axis=1)
    novelty[:2] = np.median(novelty)
    return {"low": _z(low), "harmony": _centred(novelty, CHORD_CHANGE), "accent": _centred(accent, ACCENT_DB)}


def _phase_means(values: np.ndarray, meter: int) -> np.ndarray:
    return np.array([np.mean(values[phase::meter]) for phase in range(meter)])


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


def _beat_chroma(frames: np.ndarray, chroma: np.ndarray, skip: int) -> np.ndarray:
    """Mean chroma from each beat to the next, ``(n, 12)``, leaving out ``skip`` frames at
    both ends: a centred analysis window there still hears the beat before or after."""
    nexts = np.append(frames[1:], chroma.shape[1])
    trim = np.minimum(skip, (nexts - frames) // 3)
    starts = np.minimum(frames + trim, chroma.shape[1] - 1)
    ends = np.maximum(np.minimum(nexts - trim, chroma.shape[1]), starts + 1)
    cumulative = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    return ((cumulative[:, ends] - cumulative[:, starts]) / (ends - starts)).T


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


def _centred(values: np.ndarray, scale: float) -> np.ndarray:
    """``values`` less their median, in units of ``scale``, clipped to +-3."""
    return np.clip((values - np.median(values)) / scale, -3.0, 3.0)


def _z(values: np.ndarray) -> np.ndarray:
    """Robust z-scores (median and scaled median absolute deviation), clipped to +-3:
    a beat in silence at the song's end must not squash every other beat's score."""
    centre = np.median(values)
    spread = 1.4826 * np.median(np.abs(values - centre))
    if spread <= 1e-12:
        spread = np.std(values)
    return np.clip((values - centre) / spread, -3.0, 3.0) if spread > 1e-12 else np.zeros_like(values)
