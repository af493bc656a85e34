"""Frame-wise features the beat analysis works on: onsets, low-frequency onsets, loudness, chroma.

Everything at 22.05 kHz mono with 11.6 ms frames (hop 256); chroma, which moves
slower, every other frame. The drums and bass stems, when a model gave them,
replace the mix for the low-frequency onsets, and the mix minus the drums gives
the chroma.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import librosa
import numpy as np
import soxr

from stemdesk.audio import Audio

RATE = 22050
HOP = 256
N_FFT = 1024
N_MELS = 96
CHROMA_FFT = 2048
CHROMA_STEP = 2
#: Mel bands below this (Hz) carry the kick drum and the bass.
LOW_HZ = 180.0


@dataclass(frozen=True)
class OnsetFeatures:
    """Frame-wise features of a song at ``fps`` frames per second.

    ``onsets`` float32 ``(frames,)``: onset strength of the mix (what beats are tracked on);
    ``low`` float32 ``(frames,)``: onset strength below :data:`LOW_HZ` (kick, bass);
    ``loudness`` float32 ``(frames,)``: the mix's frame energy in dB;
    ``chroma`` float32 ``(12, frames // CHROMA_STEP + 1)``: pitch-class energy of the harmonic
    part (not normalised), one column every :data:`CHROMA_STEP` frames (harmony moves slower).
    """

    onsets: np.ndarray
    low: np.ndarray
    loudness: np.ndarray
    chroma: np.ndarray
    fps: float


def onset_features(audio: Audio, stems: Mapping[str, Audio] | None = None) -> OnsetFeatures:
    """The :class:`OnsetFeatures` of a song, from its stems where they help (see the module docstring)."""
    stems = stems or {}
    mix = mono(audio)
    power = _mel_power(mix)
    mel = librosa.power_to_db(power, ref=np.max)
    loudness = librosa.power_to_db(power.sum(axis=0), ref=np.max)
    onsets = librosa.onset.onset_strength(S=mel, sr=RATE, hop_length=HOP, center=False)
    low_bands = int(np.searchsorted(librosa.mel_frequencies(N_MELS + 2, fmax=RATE / 2)[1:-1], LOW_HZ))
    rhythm = [mono(stems[name]) for name in ("drums", "bass") if name in stems]
    low_mel = librosa.power_to_db(_mel_power(np.sum(rhythm, axis=0)), ref=np.max) if rhythm else mel
    low = librosa.onset.onset_strength(S=low_mel[:low_bands], sr=RATE, hop_length=HOP, center=False)
    harmonic = mix - mono(stems["drums"]) if "drums" in stems else mix
    # Unnormalised (energy) chroma: a beat's mean is then led by its loud frames, not by
    # the noise of near-silent ones, which per-frame normalisation would blow up.
    chroma = librosa.feature.chroma_stft(y=harmonic, sr=RATE, hop_length=HOP * CHROMA_STEP, n_fft=CHROMA_FFT,
                                         norm=None, tuning=0.0)
    frames = min(len(onsets), len(low))
    return OnsetFeatures(onsets[:frames].astype(np.float32), low[:frames].astype(np.float32),
                         loudness[:frames].astype(np.float32), chroma.astype(np.float32), RATE / HOP)


def mono(audio: Audio) -> np.ndarray:
    """``audio`` as one float32 channel at :data:`RATE`, shape ``(samples,)``."""
    mono = np.mean(audio.samples, axis=0, dtype=np.float32)
    if audio.rate != RATE:
        mono = soxr.resample(mono, audio.rate, RATE)
    return np.asarray(mono, dtype=np.float32)


def _mel_power(mono: np.ndarray) -> np.ndarray:
    """Mel power spectrogram ``(N_MELS, frames)`` of a mono signal at :data:`RATE`, centred frames."""
    return librosa.feature.melspectrogram(y=mono, sr=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
