"""Beats, downbeats, tempo, meter and per-stem activity: plain arrays in song time.

    grid = analyse_beats(mixture, stems)          # BeatGrid: beats, downbeats, bpm, meter
    grid, corrected = song_grid(mixture, stems, source=card.identity)   # cached; the user's grid wins
    grid = set_downbeat(grid, 12.3)               # corrections return new grids
    save_grid(song_key(mixture), grid)            # the user's correction, kept with the song
    spans = stem_activity(stems)                  # {"drums": [(start, end), ...], ...}
"""

from stemdesk.analysis.activity import ActivitySettings, stem_activity
from stemdesk.analysis.beats import analyse_beats
from stemdesk.analysis.grid import (
    BeatGrid,
    double_tempo,
    halve_tempo,
    set_downbeat,
    set_meter,
    shift_grid,
    tap_tempo,
    uniform_grid,
)
from stemdesk.analysis.song_grid import song_grid
from stemdesk.analysis.store import (
    forget_grid,
    load_analysis,
    load_grid,
    save_grid,
    song_key,
    store_analysis,
)

__all__ = [
    "ActivitySettings", "BeatGrid", "analyse_beats", "double_tempo", "forget_grid", "halve_tempo",
    "load_analysis", "load_grid", "save_grid", "set_downbeat", "set_meter", "shift_grid", "song_key",
    "song_grid", "stem_activity", "store_analysis", "tap_tempo", "uniform_grid",
]
