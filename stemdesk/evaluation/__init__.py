"""How well a model separates: BSS Eval and global SDR on a multitrack dataset.

Every stem is scored three ways: the model's estimate, the identity (the
mixture itself) and the oracle ratio mask on the model's STFT, so that a
score reads as "this far above doing nothing, this far below the best a mask
could do". ``python -m stemdesk.evaluation`` writes the report;
:func:`evaluate` does the same from Python and returns the medians.
"""

from .command import evaluate, main
from .metrics import BssScores, bss_eval, global_sdr
from .references import model_references, oracle_ratio_mask
from .scoring import METHODS, METRICS, StemScore, medians, score_dataset, score_track

__all__ = [
    "METHODS",
    "METRICS",
    "BssScores",
    "StemScore",
    "bss_eval",
    "evaluate",
    "global_sdr",
    "main",
    "medians",
    "model_references",
    "oracle_ratio_mask",
    "score_dataset",
    "score_track",
]
