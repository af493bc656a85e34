"""Sub-mixes that contain the target: the target plus any subset of the song's other stems.

A song with drums, bass, guitar and piano yields, for a guitar model, eight mixtures:
guitar alone, guitar + drums, guitar + bass + piano, ... up to the full mix. The
research behind stemdesk trained on this powerset: the model meets the target against
many backgrounds (and alone, so it learns to pass it through untouched) from one song.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import combinations

import numpy as np


def background_subsets(others: list[str], limit: int | None = None, rng: np.random.Generator | None = None) -> list[tuple[str, ...]]:
    """Subsets of ``others`` (the non-target stems), from the empty one to all of them.

    With more than ``limit`` subsets, the full set (the real mixture) and the empty set
    (the target alone) are always kept and the rest drawn at random by ``rng`` (or the
    smallest first without one), so 2**len(others) never explodes for many stems.
    """
    names = sorted(others)
    subsets = [subset for size in range(len(names) + 1) for subset in combinations(names, size)]
    if limit is None or len(subsets) <= limit:
        return subsets
    if limit < 2:
        raise ValueError("limit must keep at least the full mixture and the target alone (2)")
    middle = subsets[1:-1]
    chosen = rng.choice(len(middle), limit - 2, replace=False) if rng is not None else range(limit - 2)
    return [subsets[0], *(middle[index] for index in sorted(chosen)), subsets[-1]]


def target_submixes(
    stems: Mapping[str, np.ndarray], target: str, limit: int | None = None, rng: np.random.Generator | None = None
) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """Each sub-mix containing ``target``: ``(stem names in it, mixture)``.

    ``stems`` maps names to float32 ``(channels, samples)`` arrays of one length; each
    mixture is the float32 sum of the target and one subset from
    :func:`background_subsets`. Generated lazily: one mixture in memory at a time.
    """
    if target not in stems:
        raise KeyError(f"no stem '{target}' among {sorted(stems)}")
    others = [name for name in stems if name != target]
    for subset in background_subsets(others, limit, rng):
        mixture = stems[target].copy()
        for name in subset:
            mixture += stems[name]
        yield (target, *subset), mixture
