"""Beat tracking on click tracks whose every beat is known."""

import numpy as np
import pytest

from stemdesk.analysis import analyse_beats
from stemdesk.audio import Audio

from .signals import click_track

TOLERANCE = 0.020


def nearest_errors(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true beat, the distance (s) to the nearest beat found."""
    return np.min(np.abs(found[None, :] - truth[:, None]), axis=1)


@pytest.mark.parametrize("bpm", [60.0, 90.0, 120.0, 150.0, 180.0])
def test_a_click_track_is_tracked_to_its_tempo_and_every_beat(bpm):
    audio, truth = click_track(bpm, 30.0)
    grid = analyse_beats(audio)
    assert grid.bpm == pytest.approx(bpm, rel=0.005)
    assert np.max(nearest_errors(grid.beats, truth)) < TOLERANCE
    # No extra beats between the clicks.
    assert len(grid.beats[(grid.beats > truth[0] - 0.1) & (grid.beats < truth[-1] + 0.1)]) == len(truth)


def test_a_tempo_0_7_percent_off_a_round_number_does_not_drift_over_two_minutes():
    bpm = 120.0 * 1.007
    audio, truth = click_track(bpm, 120.0)
    grid = analyse_beats(audio)
    assert grid.bpm == pytest.approx(bpm, rel=0.001)
    errors = nearest_errors(grid.beats, truth)
    assert np.max(errors) < TOLERANCE
    # The last minute is as tight as the first: nothing accumulates.
    half = len(errors) // 2
    assert np.max(errors[half:]) < TOLERANCE


def test_the_grid_follows_a_tempo_that_speeds_up():
    audio, truth = click_track(100.0, 60.0, end_bpm=112.0)
    grid = analyse_beats(audio)
    assert np.max(nearest_errors(grid.beats, truth)) < TOLERANCE
    assert np.max(nearest_errors(grid.downbeats, truth[::4])) < TOLERANCE


@pytest.mark.parametrize(("bpm", "meter"), [(120.0, 4), (96.0, 4), (150.0, 3), (110.0, 3)])
def test_downbeats_of_an_accented_click_track(bpm, meter):
    audio, truth = click_track(bpm, 30.0, meter=meter)
    grid = analyse_beats(audio)
    assert grid.meter == meter
    assert np.max(nearest_errors(grid.downbeats, truth[::meter])) < TOLERANCE
    assert len(grid.downbeats) == len(truth[::meter])


def test_the_drums_stem_is_used_when_given():
    drums, truth = click_track(100.0, 20.0)
    noise = np.random.default_rng(0).normal(0, 0.05, drums.samples.shape).astype(np.float32)
    mixture = Audio(drums.samples + noise, drums.rate)
    grid = analyse_beats(mixture, {"drums": drums, "bass": Audio(np.zeros_like(noise), drums.rate)})
    assert np.max(nearest_errors(grid.beats, truth[1:-1])) < TOLERANCE
    assert np.max(nearest_errors(grid.downbeats, truth[::4])) < TOLERANCE


def test_silence_and_a_short_blip_give_a_grid_without_beats():
    silence = Audio(np.zeros((2, 44100 * 5), np.float32), 44100)
    assert len(analyse_beats(silence).beats) == 0
    assert analyse_beats(silence).duration == pytest.approx(5.0)
    short = Audio(np.random.default_rng(1).normal(0, 0.1, (1, 22050)).astype(np.float32), 44100)
    assert len(analyse_beats(short).beats) == 0
