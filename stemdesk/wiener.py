"""Multichannel Wiener post-filter (expectation-maximisation), as used after Open-Unmix.

A ratio mask treats each channel on its own. The multichannel Wiener filter
also models where each source sits in the stereo image: every source j gets a
power spectral density ``v_j(f, t)`` and a spatial covariance ``R_j(f)``
(2x2 for stereo), and its estimate is

    y_j = v_j R_j (sum_k v_k R_k)^-1 x

for the mixture STFT ``x``. Starting from the ratio-masked estimates, each
EM iteration re-estimates ``v_j`` and ``R_j`` from the current ``y_j`` and
filters again (Duong et al. 2010; Nugraha et al. 2016; Open-Unmix's
post-processing). Works on one chunk of frames at a time, so ``R_j`` is
estimated per chunk.
"""

from __future__ import annotations

import numpy as np

#: Regularisation of the mixture covariance, relative to its mean power.
_LOADING = 1e-6
_BLOCK_BINS = 128


def wiener_filter(estimates: np.ndarray, mixture: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Refine source estimates with ``iterations`` EM steps of the multichannel Wiener filter.

    Args:
        estimates: complex64 ``(sources, channels, bins, frames)``, e.g. the
            ratio-masked mixture for each source.
        mixture: complex64 ``(channels, bins, frames)``.
        iterations: EM steps; 0 returns ``estimates`` unchanged.

    Returns:
        complex64 ``(sources, channels, bins, frames)``. Because the gains of
        all sources add up to the identity (up to regularisation), the
        sources still sum to the mixture.
    """
    out = estimates.astype(np.complex64, copy=True)
    if iterations <= 0:
        return out
    loading = _LOADING * float(np.mean(np.abs(mixture) ** 2)) + 1e-12
    # Every bin is filtered independently: blocks of bins bound the memory of
    # the (sources, bins, frames, 2, 2) covariance arrays.
    for start in range(0, mixture.shape[1], _BLOCK_BINS):
        block = slice(start, start + _BLOCK_BINS)
        out[:, :, block] = _filter_bins(out[:, :, block], mixture[:, block], iterations, loading)
    return out


def _filter_bins(estimates: np.ndarray, mixture: np.ndarray, iterations: int, loading: float) -> np.ndarray:
    """:func:`wiener_filter` on a block of bins, shapes as there."""
    x = mixture.transpose(1, 2, 0)  # (bins, frames, channels)
    channels = mixture.shape[0]
    for _ in range(iterations):
        y = estimates.transpose(0, 2, 3, 1)  # (sources, bins, frames, channels)
        psd = np.mean(np.abs(y) ** 2, axis=-1)  # (sources, bins, frames)
        # Spatial covariance per source and bin: outer products of the
        # estimates summed over frames, normalised by the source's power.
        covariance = np.einsum("sftc,sftd->sfcd", y, y.conj())
        covariance /= (psd.sum(axis=-1) + 1e-12)[..., None, None]
        weighted = psd[..., None, None] * covariance[:, :, None]  # (sources, bins, frames, C, C)
        mix_covariance = weighted.sum(axis=0)
        mix_covariance += loading * np.eye(channels, dtype=np.complex64)
        gains = weighted @ np.linalg.inv(mix_covariance)[None]
        estimates = np.einsum("sftcd,ftd->scft", gains, x).astype(np.complex64)
    return estimates
