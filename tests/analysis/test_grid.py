"""BeatGrid and the corrections a musician makes to it."""

import numpy as np
import pytest

from stemdesk.analysis import (
    BeatGrid,
    double_tempo,
    halve_tempo,
    set_downbeat,
    set_meter,
    shift_grid,
    tap_tempo,
    uniform_grid,
)
from stemdesk.errors import StemdeskError


def test_uniform_grid_has_its_tempo_meter_and_downbeat():
    grid = uniform_grid(120.0, 10.0, offset=1.25, meter=4)
    assert grid.bpm == pytest.approx(120.0)
    assert grid.beats[0] == pytest.approx(0.25)
    assert grid.downbeats[0] == pytest.approx(1.25)
    assert np.allclose(np.diff(grid.downbeats), 2.0)
    assert list(grid.positions[:6]) == [3, 4, 1, 2, 3, 4]
    assert list(grid.bar_numbers()[:3]) == [1, 2, 3]


def test_a_grid_is_read_only_and_rejects_nonsense():
    grid = uniform_grid(100.0, 5.0)
    with pytest.raises(ValueError):
        grid.beats[0] = 1.0
    with pytest.raises(ValueError):
        BeatGrid(np.array([1.0, 0.5]), 4, 0, 5.0)
    with pytest.raises(ValueError):
        BeatGrid(np.array([0.5, 6.0]), 4, 0, 5.0)
    with pytest.raises(ValueError):
        BeatGrid(np.array([0.5, 1.0]), 4, 4, 5.0)
    with pytest.raises(StemdeskError):
        uniform_grid(1000.0, 5.0)


def test_tap_tempo_takes_tempo_and_phase_from_the_taps_even_with_a_skipped_tap():
    grid = uniform_grid(100.0, 30.0, offset=0.3)
    rng = np.random.default_rng(0)
    taps = 5.1 + 0.5 * np.array([0, 1, 2, 4, 5, 6, 7]) + rng.normal(0, 0.005, 7)
    tapped = tap_tempo(grid, taps)
    assert tapped.bpm == pytest.approx(120.0, rel=0.01)
    assert np.min(np.abs(tapped.beats - 5.1)) < 0.01
    # The downbeat stays nearest the old one.
    assert tapped.downbeats[0] == pytest.approx(0.1, abs=0.02)
    assert tapped.duration == grid.duration
    with pytest.raises(StemdeskError):
        tap_tempo(grid, [3.0])


def test_shifting_moves_every_beat_and_bar_and_keeps_the_song_covered():
    grid = uniform_grid(120.0, 10.0, offset=0.0)
    later = shift_grid(grid, 0.2)
    assert later.beats[0] == pytest.approx(0.2)
    assert later.downbeats[0] == pytest.approx(0.2)
    assert later.beats[-1] <= 10.0
    earlier = shift_grid(grid, -0.3)
    assert earlier.beats[0] == pytest.approx(0.2)
    # The bars moved with the beats: the downbeat that was at 2.0 s is now at 1.7 s.
    assert np.min(np.abs(earlier.downbeats - 1.7)) < 1e-9
    assert earlier.beats[-1] == pytest.approx(9.7)
    assert shift_grid(earlier, 0.3).beats == pytest.approx(grid.beats)


def test_this_is_beat_one_moves_the_bars_not_the_beats():
    grid = uniform_grid(120.0, 10.0)
    moved = set_downbeat(grid, 3.45)
    assert np.array_equal(moved.beats, grid.beats)
    assert moved.downbeats[0] == pytest.approx(1.5)
    assert np.min(np.abs(moved.downbeats - 3.5)) < 1e-9
    assert grid.downbeats[0] == 0.0, "the old grid is unchanged"


def test_halve_and_double_keep_the_downbeats_and_undo_each_other():
    grid = uniform_grid(120.0, 20.0, offset=1.5, meter=4)
    half = halve_tempo(grid)
    assert half.bpm == pytest.approx(60.0)
    assert set(np.round(half.downbeats, 6)) <= set(np.round(half.beats, 6))
    assert half.downbeats[0] == pytest.approx(1.5)
    assert np.allclose(np.diff(half.downbeats), 4.0)
    double = double_tempo(grid)
    assert double.bpm == pytest.approx(240.0)
    assert double.downbeats[0] == pytest.approx(0.5)
    assert np.allclose(np.diff(double.downbeats), 1.0)
    undone = halve_tempo(double)
    assert np.allclose(undone.beats, grid.beats)
    # Bars of the original length again, on beats that were downbeats of the doubled grid.
    assert np.allclose(np.diff(undone.downbeats), 2.0) and undone.downbeats[0] == pytest.approx(0.5)


def test_changing_the_meter_keeps_the_first_downbeat():
    grid = uniform_grid(90.0, 20.0, offset=2.0, meter=4)
    waltz = set_meter(grid, 3)
    assert waltz.meter == 3
    assert np.min(np.abs(waltz.downbeats - 2.0)) < 1e-9
    assert np.allclose(np.diff(waltz.downbeats), 2.0)


def test_to_dict_round_trip_and_bad_dicts():
    grid = set_downbeat(uniform_grid(133.0, 12.0, offset=0.37, meter=3), 1.2)
    data = grid.to_dict()
    assert set(data) >= {"bpm", "meter", "beats", "downbeats"}
    again = BeatGrid.from_dict(data)
    assert np.allclose(again.beats, grid.beats, atol=1e-5)
    assert (again.meter, again.first_downbeat, again.duration) == (3, grid.first_downbeat, 12.0)
    assert np.allclose(data["downbeats"], grid.downbeats, atol=1e-5)
    for broken in ({}, {**data, "beats": "nope"}, {**data, "format": 99}, {**data, "meter": 0}):
        with pytest.raises(StemdeskError):
            BeatGrid.from_dict(broken)
