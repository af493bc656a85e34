"""The spectrogram the beat analysis works on: a log-mel spectrogram at 86 frames a second.

Everything at 22.05 kHz mono with 11.6 ms frames (hop 256), 96 mel bands; frame
``i`` is centred on ``i * HOP / RATE`` seconds of song time.
"""

from __future__ import annotations

import librosa
import numpy as np
import soxr

from stemdesk.audio import Audio

RATE = 22050
HOP = 256
FPS = RATE / HOP
N_FFT = 1024
N_MELS = 96


def mono(audio: Audio) -> np.ndarray:
    """``audio`` as one float32 channel at :data:`RATE`, shape ``(samples,)``."""
    mono = np.mean(audio.samples, axis=0, dtype=np.float32)
    if audio.rate != RATE:
        mono = soxr.resample(mono, audio.rate, RATE)
    return np.asarray(mono, dtype=np.float32)


def mel_power(mono: np.ndarray) -> np.ndarray:
    """Mel power spectrogram, float32 ``(N_MELS, frames)``, of a mono signal at :data:`RATE`."""
    return librosa.feature.melspectrogram(y=mono, sr=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)


def log_mel(mono: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram, float32 ``(N_MELS, frames)``, in dB below its loudest bin
    (at most 80 dB below: librosa's ``top_db``)."""
    return librosa.power_to_db(mel_power(mono), ref=np.max).astype(np.float32)
