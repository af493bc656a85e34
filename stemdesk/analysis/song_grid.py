"""The grid to show for a song: the user's correction, else the cached analysis, else a new one."""

from __future__ import annotations

import os
from collections.abc import Mapping

from stemdesk.analysis.beats import analyse_beats
from stemdesk.analysis.grid import BeatGrid
from stemdesk.analysis.store import load_analysis, load_grid, song_key, store_analysis
from stemdesk.audio import Audio


def song_grid(mixture: Audio, stems: Mapping[str, Audio] | None = None, source: str = "mix",
              use_corrections: bool = True, cache_root: str | os.PathLike | None = None,
              grid_root: str | os.PathLike | None = None) -> tuple[BeatGrid, bool]:
    """``(grid, corrected)`` for a song; ``corrected`` is True for the user's own grid.

    ``source`` names what the analysis saw besides the mix: "mix" alone, or the
    identity of the model whose ``stems`` are given (e.g. ``card.identity``), so a
    grid analysed with another model's drums is not mistaken for this one's. Takes
    a second or two on a miss (call it off the GUI thread); a hit is instant.
    """
    key = song_key(mixture)
    if use_corrections and (corrected := load_grid(key, grid_root)) is not None:
        return corrected, True
    cached = load_analysis(key, source, cache_root)
    if cached is not None:
        return cached, False
    grid = analyse_beats(mixture, stems)
    store_analysis(key, grid, source, cache_root)
    return grid, False
