"""Beats, tempo, meter and downbeats of a song, from its audio (and its stems when there are some).

The pipeline, all on a 22.05 kHz mono mix at 11.6 ms frames:

1. onset strength (spectral flux of a log-mel spectrogram, librosa);
2. the tempo from the envelope's autocorrelation: every candidate is scored with
   its multiples (bar-level periodicity supports the beat level, not the eighth
   notes) and a log-normal prior around 115 bpm, then refined to a fraction of a
   frame from the peaks at 1-8 beat periods, so a tempo 0.7 % off a round number
   is found 0.7 % off;
3. beat tracking by dynamic programming at that tempo (librosa's Ellis tracker);
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
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import soxr

from stemdesk.analysis.downbeats import find_downbeats
from stemdesk.analysis.grid import BeatGrid
from stemdesk.audio import Audio

RATE = 22050
HOP = 256
N_FFT = 1024
N_MELS = 96
#: Mel bands below this (Hz) carry the kick drum and the bass.
LOW_HZ = 180.0
MIN_BPM, MAX_BPM = 50.0, 220.0
#: Centre and width (octaves) of the tempo prior: most songs lie within 80-160 bpm.
PRIOR_BPM, PRIOR_OCTAVES = 115.0, 0.7
#: How strongly the smoothed grid resists a change of beat period between beats.
SMOOTHING = 30.0


@dataclass(frozen=True)
class OnsetFeatures:
    """Frame-wise features of a song at ``fps`` frames per second.

    ``onsets`` float32 ``(frames,)``: onset strength of the mix (what beats are tracked on);
    ``low`` float32 ``(frames,)``: onset strength below :data:`LOW_HZ` (kick, bass);
    ``loudness`` float32 ``(frames,)``: the mix's frame energy in dB;
    ``chroma`` float32 ``(12, frames)``: pitch-class energy of the harmonic part (not normalised).
    """

    onsets: np.ndarray
    low: np.ndarray
    loudness: np.ndarray
    chroma: np.ndarray
    fps: float


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
    beats = track_beats(features.onsets, features.fps, bpm)
    beats = beats[(beats >= 0) & (beats <= duration)]
    if len(beats) < 2:
        return BeatGrid(beats, 4, 0, duration)
    meter, first = find_downbeats(beats, features)
    return BeatGrid(beats, meter, first, duration)


def onset_features(audio: Audio, stems: Mapping[str, Audio] | None = None) -> OnsetFeatures:
    """The :class:`OnsetFeatures` of a song, from its stems where they help (see :func:`analyse_beats`)."""
    stems = stems or {}
    mix = _mono(audio)
    power = _mel_power(mix)
    mel = librosa.power_to_db(power, ref=np.max)
    loudness = librosa.power_to_db(power.sum(axis=0), ref=np.max)
    onsets = librosa.onset.onset_strength(S=mel, sr=RATE, hop_length=HOP, center=False)
    low_bands = int(np.searchsorted(librosa.mel_frequencies(N_MELS + 2, fmax=RATE / 2)[1:-1], LOW_HZ))
    rhythm = [_mono(stems[name]) for name in ("drums", "bass") if name in stems]
    low_mel = librosa.power_to_db(_mel_power(np.sum(rhythm, axis=0)), ref=np.max) if rhythm else mel
    low = librosa.onset.onset_strength(S=low_mel[:low_bands], sr=RATE, hop_length=HOP, center=False)
    harmonic = mix - _mono(stems["drums"]) if "drums" in stems else mix
    # Unnormalised (energy) chroma: a beat's mean is then led by its loud frames, not by
    # the noise of near-silent ones, which per-frame normalisation would blow up.
    chroma = librosa.feature.chroma_stft(y=harmonic, sr=RATE, hop_length=HOP, n_fft=4 * N_FFT, norm=None, tuning=0.0)
    frames = min(len(onsets), len(low), chroma.shape[1])
    return OnsetFeatures(onsets[:frames].astype(np.float32), low[:frames].astype(np.float32),
                         loudness[:frames].astype(np.float32), chroma[:, :frames].astype(np.float32), RATE / HOP)


def estimate_tempo(onsets: np.ndarray, fps: float) -> float:
    """The song's tempo in bpm from its onset envelope ``(frames,)`` at ``fps``.

    Each candidate lag is scored by the autocorrelation at it, raised by that at 2 and
    4 times it (a beat level is the one whose multiples are bars), less that at half of it (a
    level with as strong onsets between its beats is too slow), weighted by the prior;
    the winner is refined from the autocorrelation peaks at 1-8 of its periods.
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

    # Strong onsets halfway between candidate beats mean the candidate is too slow.
    salience = at(period) * (1 + 0.5 * at(2 * period) + 0.25 * at(4 * period)) - 0.5 * at(period / 2)
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
    _, frames = librosa.beat.beat_track(onset_envelope=onsets, sr=fps * HOP, hop_length=HOP, bpm=bpm,
                                        tightness=400, trim=False, units="frames")
    if len(frames) < 3:
        return frames / fps
    return _smoothed(onsets, frames.astype(np.float64), fps) / fps


def _smoothed(onsets: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """Beat frames moved to their onset peaks and smoothed (robust weighted Whittaker smoother)."""
    period = float(np.median(np.diff(frames)))
    reach = max(int(0.15 * period), 1)
    peaks, strength = _nearest_peaks(onsets, frames, reach)
    scale = float(np.median(strength[strength > 0])) if np.any(strength > 0) else 1.0
    weights = np.minimum(strength / max(scale, 1e-9), 3.0)
    n = len(frames)
    second_difference = scipy.sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    penalty = SMOOTHING * (second_difference.T @ second_difference)
    fitted = peaks.copy()
    for _ in range(4):
        system = scipy.sparse.diags(weights + 1e-6) + penalty
        fitted = scipy.sparse.linalg.spsolve(system.tocsc(), weights * peaks + 1e-6 * frames)
        # Downweight onsets far from the smooth grid (syncopation, fills): Cauchy weights.
        residual = (peaks - fitted) / max(0.02 * period, 0.5)
        weights = np.minimum(strength / max(scale, 1e-9), 3.0) / (1.0 + residual**2)
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


def _mono(audio: Audio) -> np.ndarray:
    """``audio`` as one float32 channel at :data:`RATE`, shape ``(samples,)``."""
    mono = np.mean(audio.samples, axis=0, dtype=np.float32)
    if audio.rate != RATE:
        mono = soxr.resample(mono, audio.rate, RATE)
    return np.asarray(mono, dtype=np.float32)


def _mel_power(mono: np.ndarray) -> np.ndarray:
    """Mel power spectrogram ``(N_MELS, frames)`` of a mono signal at :data:`RATE`, centred frames."""
    return librosa.feature.melspectrogram(y=mono, sr=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
