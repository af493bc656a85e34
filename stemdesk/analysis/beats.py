"""Beats, tempo, meter and downbeats of a song, from its audio (and its stems when there are some).

The pipeline, all on a 22.05 kHz mono mix at 11.6 ms frames:

1. onset strength (spectral flux of a log-mel spectrogram, librosa);
2. the tempo from the envelope's autocorrelation: every candidate is scored with
   its multiples (bar-level periodicity supports the beat level, not the eighth
   notes) and a log-normal prior around 115 bpm, then refined to a fraction of a
   frame from the peaks at 1-8 beat periods, so a tempo 0.7 % off a round number
   is found 0.7 % off;
3. beat tracking by dynamic programming at that tempo (Ellis's tracker) on
   the mix's onsets plus half as much of the low-frequency ones (kick and bass);
4. the grid refined against the music: each beat is moved to the onset peak near
   it and the beat times are smoothed by a weighted, robust least-squares fit that
   penalises changes of the beat period (a Whittaker smoother), so the grid follows
   slow tempo changes, never drifts off the beat, and ignores a syncopated onset;
5. meter and downbeat phase (:mod:`stemdesk.analysis.downbeats`) from low-frequency
   onsets, harmonic change and accents on the beats — from the drums and bass stems
   when a model gave them, from the mix otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

import librosa
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from stemdesk.analysis.downbeats import find_downbeats
from stemdesk.analysis.features import OnsetFeatures, onset_features
from stemdesk.analysis.grid import BeatGrid
from stemdesk.audio import Audio

MIN_BPM, MAX_BPM = 50.0, 220.0
#: Centre and width (octaves) of the tempo prior: most songs lie within 80-160 bpm.
PRIOR_BPM, PRIOR_OCTAVES = 115.0, 0.7
#: A level whose half-period autocorrelation reaches this fraction of its own is too slow.
SUBDIVISION_RATIO = 0.9
SLOW_PENALTY = 3.0
#: Frame energy (dB below the song's loudest frame) under which a beat is in silence.
SILENCE_DB = -60.0
#: Weight of the low-frequency onsets, against the mix's, in the envelope beats are tracked on.
LOW_WEIGHT = 0.5
#: How strongly the dynamic programme holds the beat period (Ellis's "tightness").
TIGHTNESS = 400.0
#: How strongly the smoothed grid resists a change of beat period between beats.
SMOOTHING = 30.0


def analyse_beats(audio: Audio, stems: Mapping[str, Audio] | None = None) -> BeatGrid:
    """The beat grid of ``audio`` (any rate, ``(channels, samples)``), in song time.

    ``stems`` (name -> Audio of the same shape, e.g. a model's separation) are used
    where they help: "drums" and "bass" give cleaner low-frequency onsets for the
    downbeats, and the mix minus "drums" a cleaner harmony. A song too short or too
    quiet to have a beat gives a grid without beats.
    """
    duration = audio.num_samples / audio.rate
    features = onset_features(audio, stems)
    if len(features.onsets) < 4 * features.fps or not np.any(features.onsets > 0):
        return BeatGrid(np.empty(0), 4, 0, duration)
    bpm = estimate_tempo(features.onsets, features.fps)
    # The kick and the bass mostly land on the beat, hi-hats and guitars between beats too:
    # adding the low onsets keeps the tracker from locking onto the off-beats.
    beats = track_beats(_unit_spread(features.onsets) + LOW_WEIGHT * _unit_spread(features.low), features.fps, bpm)
    beats = _within_sound(beats[(beats >= 0) & (beats <= duration)], features)
    if len(beats) < 2:
        return BeatGrid(beats, 4, 0, duration)
    meter, first = find_downbeats(beats, features)
    return BeatGrid(beats, meter, first, duration)


def estimate_tempo(onsets: np.ndarray, fps: float) -> float:
    """The song's tempo in bpm from its onset envelope ``(frames,)`` at ``fps``.

    Each candidate lag is scored by the autocorrelation at it, raised by that at 2 and
    4 times it (a beat level is the one whose multiples are bars), less a penalty
    when that at half of it is nearly as high (a level with onsets between its beats
    as strong as on them is too slow: a click track at 180 bpm is not at 90), and
    weighted by the prior; the winner is refined from the autocorrelation peaks at
    1-8 of its periods.
    """
    envelope = onsets - np.mean(onsets)
    max_lag = int(8 * 60 * fps / MIN_BPM) + 2
    ac = librosa.autocorrelate(envelope, max_size=min(max_lag, len(envelope)))
    ac = np.maximum(ac / max(ac[0], 1e-12), 0.0)
    lags = np.arange(len(ac), dtype=np.float64)
    bpms = np.geomspace(MIN_BPM, MAX_BPM, 800)
    period = 60.0 * fps / bpms

    def at(lag: np.ndarray) -> np.ndarray:
        return np.interp(lag, lags, ac, right=0.0)

    # Onsets halfway between candidate beats as strong as on them mean the candidate is too slow.
    too_slow = np.maximum(at(period / 2) - SUBDIVISION_RATIO * at(period), 0.0)
    salience = at(period) * (1 + at(2 * period) + 0.5 * at(4 * period)) - SLOW_PENALTY * too_slow
    prior = np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    best = float(period[np.argmax(salience * prior)])
    return 60.0 * fps / _refined_period(ac, best)


def _refined_period(ac: np.ndarray, period: float) -> float:
    """The beat period (frames) to a fraction of a frame, from the autocorrelation peaks
    near 1-8 multiples of ``period``: the k-th peak measures the period k times finer."""
    estimates, weights = [], []
    for multiple in range(1, 9):
        centre = multiple * period
        low, high = int(centre - 0.06 * centre) - 1, int(centre + 0.06 * centre) + 2
        if low < 1 or high >= len(ac) - 1:
            break
        peak = low + int(np.argmax(ac[low:high]))
        if not ac[peak - 1] <= ac[peak] >= ac[peak + 1] or ac[peak] <= 0:
            continue
        estimates.append((peak + _parabolic_offset(ac, peak)) / multiple)
        weights.append(ac[peak] * multiple)
        period = estimates[-1] if multiple == 1 else float(np.average(estimates, weights=weights))
    return float(np.average(estimates, weights=weights)) if estimates else period


def track_beats(onsets: np.ndarray, fps: float, bpm: float) -> np.ndarray:
    """Beat times (float64 ``(beats,)`` seconds) tracked on ``onsets`` at about ``bpm``,
    refined against the onset peaks (see the module docstring, step 4)."""
    frames = dynamic_programming_beats(onsets, 60.0 * fps / bpm)
    if len(frames) < 3:
        return frames / fps
    return _smoothed(onsets, frames.astype(np.float64), fps) / fps


def dynamic_programming_beats(onsets: np.ndarray, period: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat frames (int ``(beats,)``) that best fit ``onsets`` ``(frames,)`` at about ``period``
    frames a beat: Ellis's dynamic programme (J. New Music Research 36(1), 2007).

    Each frame's score is its (smoothed, normalised) onset strength plus the best
    score of a previous frame 0.5-2 periods back, less ``tightness`` times the
    squared log ratio of that interval to the period. The last beat is the best
    scoring frame in the final period; the rest follow from the back-links.

    Written here rather than taken from ``librosa.beat``: importing that module
    compiles an uncached numba kernel in every process (6 s on the build machine),
    more than the whole analysis of a song takes.
    """
    width = max(period / 32.0, 0.5)
    kernel = np.exp(-0.5 * (np.arange(-int(4 * width), int(4 * width) + 1) / width) ** 2)
    local = np.convolve(onsets / max(float(np.std(onsets)), 1e-9), kernel, mode="same")
    lags = np.arange(int(round(period / 2)), int(round(2 * period)) + 1)
    penalty = tightness * np.log(lags / period) ** 2
    score = local.astype(np.float64).copy()
    back = np.full(len(local), -1)
    for frame in range(lags[0], len(local)):
        usable = lags[lags <= frame]
        candidates = score[frame - usable] - penalty[: len(usable)]
        best = int(np.argmax(candidates))
        # A frame before the first beat starts a path of its own rather than a poor link.
        if candidates[best] > 0:
            score[frame] += candidates[best]
            back[frame] = frame - usable[best]
    tail = len(score) - int(round(period))
    beat = tail + int(np.argmax(score[tail:])) if tail > 0 else int(np.argmax(score))
    beats = [beat]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    return np.array(beats[::-1])


def _smoothed(onsets: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """Beat frames moved to their onset peaks and smoothed (robust weighted Whittaker smoother)."""
    period = float(np.median(np.diff(frames)))
    reach = max(int(0.15 * period), 1)
    peaks, strength = _nearest_peaks(onsets, frames, reach)
    scale = float(np.median(strength[strength > 0])) if np.any(strength > 0) else 1.0
    # Strong onsets count more, but none more than three typical ones.
    confidence = np.minimum(strength / max(scale, 1e-9), 3.0)
    weights = confidence
    n = len(frames)
    second_difference = scipy.sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    penalty = SMOOTHING * (second_difference.T @ second_difference)
    for _ in range(4):
        # A beat without an onset (a break) keeps, faintly, the frame the tracker gave it.
        system = scipy.sparse.diags(weights + 1e-6) + penalty
        fitted = scipy.sparse.linalg.spsolve(system.tocsc(), weights * peaks + 1e-6 * frames)
        # Downweight onsets far from the smooth grid (syncopation, fills): Cauchy weights.
        residual = (peaks - fitted) / max(0.02 * period, 0.5)
        weights = confidence / (1.0 + residual**2)
    return fitted


def _nearest_peaks(onsets: np.ndarray, frames: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """For each beat frame, the strongest onset within ``reach`` frames (to a fraction of a
    frame) and its strength; a beat with no onset near it keeps its frame with strength 0."""
    index = np.round(frames).astype(int)
    offsets = np.arange(-reach, reach + 1)
    window = np.clip(index[:, None] + offsets[None, :], 1, len(onsets) - 2)
    values = onsets[window]
    best = window[np.arange(len(index)), np.argmax(values, axis=1)]
    strength = onsets[best].astype(np.float64)
    peaks = best + _parabolic_offset(onsets, best)
    is_peak = (onsets[best - 1] <= onsets[best]) & (onsets[best + 1] <= onsets[best]) & (strength > 0)
    return np.where(is_peak, peaks, frames), np.where(is_peak, strength, 0.0)


def _parabolic_offset(values: np.ndarray, peak):
    """Offset (-0.5..0.5) of the vertex of the parabola through a peak and its neighbours."""
    left, centre, right = values[peak - 1], values[peak], values[peak + 1]
    curvature = left - 2 * centre + right
    safe = np.where(curvature < 0, curvature, -1.0)
    return np.clip(np.where(curvature < 0, 0.5 * (left - right) / safe, 0.0), -0.5, 0.5)


def _within_sound(beats: np.ndarray, features: OnsetFeatures) -> np.ndarray:
    """``beats`` without those in the silence before the song starts or after it ends
    (the tracker carries its grid on through them)."""
    frames = np.clip(np.round(beats * features.fps).astype(int), 0, len(features.loudness) - 1)
    reach = int(0.1 * features.fps)
    window = np.clip(frames[:, None] + np.arange(-reach, reach + 1)[None, :], 0, len(features.loudness) - 1)
    audible = np.flatnonzero(features.loudness[window].max(axis=1) > SILENCE_DB)
    return beats[audible[0] : audible[-1] + 1] if len(audible) else beats[:0]


def _unit_spread(values: np.ndarray) -> np.ndarray:
    return values / max(float(np.std(values)), 1e-9)
