"""The practice set-up in the core: validation, loops on the grid, the player's settings, the store."""

import math

import pytest
from pydantic import ValidationError

from stemdesk.analysis import uniform_grid
from stemdesk.playback import MixerState
from stemdesk.practice import PracticeSetup, SpeedTrainer, bar_at, bar_span, move_span, snap_span
from stemdesk.practice_store import PracticeStore, SavedPractice

#: 120 bpm from 0 s in 4/4 over 20 s: beats every 0.5 s, bars every 2 s (10 bars).
GRID = uniform_grid(120.0, 20.0)


def test_a_setup_refuses_what_the_player_cannot_do():
    with pytest.raises(ValidationError):
        PracticeSetup(loop=(3.0, 2.0))
    with pytest.raises(ValidationError):
        PracticeSetup(tempo=3.0)
    with pytest.raises(ValidationError):
        PracticeSetup(count_in_bars=3)
    with pytest.raises(ValidationError):
        PracticeSetup(looping=True)
    with pytest.raises(ValidationError):
        SpeedTrainer(start=1.0, target=0.7)
    assert PracticeSetup().with_tempo(9.0).tempo == 2.0 and PracticeSetup().with_transpose(-20).transpose == -12.5


def test_the_players_loop_is_derived_from_the_one_span():
    setup = PracticeSetup().with_loop((1.5, 2.5))
    assert setup.loop_samples(44_100, 10 * 44_100) is None, "marked, not looping"
    looping = setup.change(looping=True)
    assert looping.loop_samples(44_100, 10 * 44_100) == (66_150, 110_250)
    assert looping.loop_samples(44_100, 80_000) == (66_150, 80_000), "clipped to the song"
    assert looping.with_loop(None).looping is False


def test_loops_on_the_grid():
    assert bar_at(GRID, 0.0) == 1 and bar_at(GRID, 5.9) == 3 and bar_at(GRID, 6.0) == 4
    assert bar_span(GRID, 2, 3) == (2.0, 6.0)
    assert bar_span(GRID, 10, 10) == (18.0, 20.0), "the last bar ends with the song"
    with pytest.raises(ValueError):
        bar_span(GRID, 11, 11)  # a downbeat on the song's last sample starts no bar
    with pytest.raises(ValueError):
        bar_span(GRID, 9, 12)
    assert snap_span(GRID, 2.2, 5.7) == (2.0, 6.0), "most of a bar or more: bar lines"
    assert snap_span(GRID, 3.1, 3.4) == (3.0, 3.5), "less: beats, at least one"
    assert move_span(GRID, (2.0, 6.0), 1) == (4.0, 8.0)
    assert move_span(GRID, (2.3, 3.3), -1) == pytest.approx((0.3, 1.3))
    assert move_span(GRID, (16.0, 20.0), 1) == (16.0, 20.0), "not past the end"


def test_the_players_settings():
    setup = PracticeSetup(tempo=0.7, transpose=-2.5, click=True, click_db=-9.0, count_in_bars=1,
                          count_in_each_pass=True, trainer=SpeedTrainer(start=0.6, target=0.9, step=0.05))
    player = setup.player_settings()
    assert (player.tempo, player.semitones, player.cents) == (0.7, -2.0, -50.0)
    assert (player.click_db, player.click_muted, player.count_in_bars, player.count_in_each_loop) == (
        -9.0, False, 1, True)
    assert player.trainer.tempo_for_pass(0) == 0.6 and player.trainer.tempo_for_pass(3) == pytest.approx(0.75)
    assert PracticeSetup().player_settings().click_muted


def test_the_store_keeps_a_setup_and_a_closed_fader_and_ignores_a_damaged_file(tmp_path):
    store = PracticeStore(tmp_path)
    key = "0123456789abcdef0123456789abcdef"
    setup = PracticeSetup(tempo=0.8).with_loop((1.0, 3.0), looping=True).with_marker("solo", 1.0)
    mixer = MixerState.for_stems(["vocals", "drums"]).with_gain("vocals", -math.inf).with_mute("drums")
    assert store.save(key, SavedPractice.of(setup, mixer))
    saved = store.load(key)
    assert saved.practice == setup
    restored = saved.mixer_for(("vocals", "drums", "bass"))
    assert restored.controls["vocals"].gain_db == -math.inf and restored.controls["drums"].mute
    assert restored.controls["bass"].gain_db == 0.0, "a stem the saved mix did not have starts at 0 dB"
    store.path(key).write_text('{"practice": {"tempo": 7}}')
    assert store.load(key) is None
    assert store.load("fedcba9876543210fedcba9876543210") is None
