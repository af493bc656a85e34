"""Spectral processing: STFT/ISTFT, mask normalisation and full-band masking.

Pure numpy functions. Spectrograms are complex64 arrays of shape
``(channels, bins, frames)`` with ``bins = n_fft // 2 + 1``; signals are
float32 ``(channels, samples)``.

The STFT is unnormalised (a plain ``numpy.fft.rfft`` of each windowed frame)
and centred: the signal is zero-padded by ``n_fft // 2`` on both sides, so frame
``t`` is centred on sample ``t * hop``. That is the framing Spleeter-family
networks were trained with (``torch.stft(center=True, pad_mode="constant")``).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

# scipy's pocketfft keeps float32 in float32 and splits a batch of frames over
# threads: 4-5x faster than numpy.fft here for a segment's 1024 frames.
_FFT_WORKERS = os.cpu_count() or 1


def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window, float32 ``(n_fft,)``; satisfies COLA at hop n_fft/4."""
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)


def num_frames(num_samples: int, hop: int) -> int:
    """Frames the centred STFT gives for ``num_samples`` samples."""
    return 1 + num_samples // hop


def stft(signal: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """Centred STFT.

    Args:
        signal: float32 ``(channels, samples)``.
        window: float32 ``(n_fft,)``.

    Returns:
        complex64 ``(channels, n_fft // 2 + 1, 1 + samples // hop)``, a
        transposed view of frame-major memory: :func:`istft` and networks
        that want ``(frames, bins)`` read it without a copy.
    """
    pad = n_fft // 2
    padded = np.pad(signal.astype(np.float32, copy=False), ((0, 0), (pad, pad)))
    frames = sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
    frames = frames[:, : num_frames(signal.shape[-1], hop)]
    spec = scipy.fft.rfft(frames * window, axis=-1, workers=_FFT_WORKERS).astype(np.complex64, copy=False)
    return spec.transpose(0, 2, 1)


def istft(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add.

    Args:
        spec: complex ``(channels, n_fft // 2 + 1, frames)``.
        length: samples of the signal that :func:`stft` was given.

    Returns:
        float32 ``(channels, length)``.
    """
    if n_fft % hop:
        raise ValueError(f"hop {hop} must divide n_fft {n_fft}")
    channels, _, frames = spec.shape
    overlap = n_fft // hop
    blocks = scipy.fft.irfft(spec.transpose(0, 2, 1), n=n_fft, axis=-1, workers=_FFT_WORKERS)
    blocks = blocks.astype(np.float32, copy=False)
    blocks *= window
    # Each frame spans `overlap` hops; summing the frames shifted by k hops
    # for each k does the overlap-add without a Python loop over frames.
    blocks = blocks.reshape(channels, frames, overlap, hop)
    out = np.zeros((channels, frames + overlap - 1, hop), dtype=np.float32)
    envelope = np.zeros((frames + overlap - 1, hop), dtype=np.float32)
    square = (window * window).reshape(overlap, hop)
    for k in range(overlap):
        out[:, k : k + frames] += blocks[:, :, k]
        envelope[k : k + frames] += square[k]
    out = out.reshape(channels, -1)
    envelope = envelope.reshape(-1)
    pad = n_fft // 2
    out = out[:, pad : pad + length]
    envelope = envelope[pad : pad + length]
    # The envelope only nears zero outside the signal (there is none with a
    # COLA window inside it); guard anyway instead of dividing by zero.
    return out / np.maximum(envelope, np.finfo(np.float32).tiny)


def normalise_masks(estimates: np.ndarray, power: float, eps: float = 1e-10) -> np.ndarray:
    """Ratio masks that sum to one across stems.

    ``mask_i = (e_i**power + eps / S) / (sum_j e_j**power + eps)``; where every
    estimate is zero each stem gets ``1 / S``, so the stems still sum to the
    mixture.

    Args:
        estimates: float32 ``(stems, ...)`` non-negative masks or magnitude estimates.

    Returns:
        float32 array of the same shape, summing to 1 over axis 0.
    """
    stems = estimates.shape[0]
    powered = np.power(estimates, power, dtype=np.float32)
    total = powered.sum(axis=0, keepdims=True)
    total += eps
    powered += eps / stems
    powered /= total
    return powered


def apply_mask(spec: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Multiply a spectrogram by a mask that may cover only its lower bins.

    Bins above the mask's range get the mask of its highest bin (never zero),
    so no frequency band is lost from a stem: a network that sees up to
    11 kHz still gives full-band stems.

    Args:
        spec: complex64 ``(..., bins_total, frames)``.
        mask: float32 ``(..., bins, frames)`` with ``bins <= bins_total``.

    Returns:
        complex64 ``(..., bins_total, frames)``.
    """
    bins = mask.shape[-2]
    if bins > spec.shape[-2]:
        raise ValueError(f"mask has {bins} bins, more than the spectrum's {spec.shape[-2]}")
    out = np.empty_like(spec)
    np.multiply(spec[..., :bins, :], mask, out=out[..., :bins, :])
    np.multiply(spec[..., bins:, :], mask[..., bins - 1 : bins, :], out=out[..., bins:, :])
    return out
