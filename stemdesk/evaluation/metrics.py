"""Separation quality measures: the MDX challenges' global SDR and BSS Eval v4.

Signals are ``(channels, samples)`` arrays; sets of sources are
``(sources, channels, samples)``. All results are in dB.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from stemdesk.errors import StemdeskError


def global_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SDR over a whole signal as the MDX challenges define it.

    ``10 log10(sum s^2 / sum (s - s_hat)^2)`` over all channels and samples,
    in float64. ``+inf`` for a perfect estimate, ``-inf`` for a silent
    reference (callers skip silent references instead of averaging those).
    """
    reference = np.asarray(reference, dtype=np.float64)
    error = reference - np.asarray(estimate, dtype=np.float64)
    signal_energy = float(np.sum(reference**2))
    error_energy = float(np.sum(error**2))
    if error_energy == 0.0:
        return float("inf")
    if signal_energy == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(signal_energy / error_energy))


@dataclass(frozen=True)
class BssScores:
    """BSS Eval image scores, one value per source: the median over its windows.

    Each array is float64 ``(sources,)``; NaN where every window was left out
    (BSS Eval leaves out windows in which any reference or estimate is silent).
    """

    sdr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray


def bss_eval(references: np.ndarray, estimates: np.ndarray, rate: int) -> BssScores:
    """BSS Eval v4 as SiSEC 2018 and the MUSDB18 literature report it.

    museval's ``bss_eval`` with time-invariant 512-tap distortion filters
    estimated on the whole excerpt, metrics in 1 s windows hopping 1 s, and
    each source's median over its windows.

    Args:
        references, estimates: ``(sources, channels, samples)``, source i of
            one matching source i of the other.
        rate: sample rate, for the 1 s windows.
    """
    if references.shape != estimates.shape or references.ndim != 3:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape} must be equal 3-D shapes")
    # museval wants (sources, samples, channels).
    sdr, _isr, sir, sar, _permutation = _museval_metrics().bss_eval(
        references.transpose(0, 2, 1).astype(np.float64),
        estimates.transpose(0, 2, 1).astype(np.float64),
        window=rate,
        hop=rate,
    )
    return BssScores(*(_median_over_windows(values) for values in (sdr, sir, sar)))


def _median_over_windows(values: np.ndarray) -> np.ndarray:
    """``(sources, windows)`` -> ``(sources,)``, ignoring left-out (NaN) windows."""
    medians = np.full(values.shape[0], np.nan)
    for index, row in enumerate(values):
        kept = row[~np.isnan(row)]
        if kept.size:
            medians[index] = np.median(kept)
    return medians


@functools.cache
def _museval_metrics() -> ModuleType:
    """museval's ``metrics`` module, loaded on its own.

    ``import museval`` runs its package's ``__init__``, which imports musdb
    and stempeg, and stempeg raises at import time when no ``ffmpeg`` program
    is installed. The metrics module needs only numpy and scipy, so it is
    loaded from its file without the package around it.
    """
    package = importlib.util.find_spec("museval")
    if package is None or not package.submodule_search_locations:
        raise StemdeskError("BSS Eval needs the museval package: pip install museval")
    path = Path(next(iter(package.submodule_search_locations))) / "metrics.py"
    spec = importlib.util.spec_from_file_location("_stemdesk_museval_metrics", path)
    if spec is None or spec.loader is None:
        raise StemdeskError(f"museval is installed but its metrics module '{path}' is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
