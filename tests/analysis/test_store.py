"""The corrected grid kept with the song, and the analysed grid cached."""

import json

import numpy as np
import pytest

from stemdesk.analysis import (
    forget_grid,
    load_analysis,
    load_grid,
    save_grid,
    set_downbeat,
    song_key,
    store_analysis,
    uniform_grid,
)
from stemdesk.analysis.store import ANALYSIS_VERSION
from stemdesk.audio import Audio
from stemdesk.errors import StemdeskError


def song(seed=0):
    return Audio(np.random.default_rng(seed).normal(0, 0.1, (2, 4410)).astype(np.float32), 44100)


def test_the_key_names_the_samples():
    assert song_key(song(0)) == song_key(song(0))
    assert song_key(song(0)) != song_key(song(1))
    assert song_key(song(0)) != song_key(Audio(song(0).samples, 48000))


def test_a_corrected_grid_round_trips_and_can_be_forgotten(tmp_path):
    key = song_key(song())
    assert load_grid(key, tmp_path) is None
    grid = set_downbeat(uniform_grid(97.0, 30.0, offset=0.2, meter=3), 5.0)
    path = save_grid(key, grid, tmp_path)
    assert path.parent == tmp_path and not list(tmp_path.glob(".*"))
    again = load_grid(key, tmp_path)
    assert np.allclose(again.beats, grid.beats, atol=1e-5)
    assert np.allclose(again.downbeats, grid.downbeats, atol=1e-5)
    assert again.meter == 3
    forget_grid(key, tmp_path)
    assert load_grid(key, tmp_path) is None


def test_the_default_folder_is_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    key = song_key(song())
    assert save_grid(key, uniform_grid(120.0, 5.0)).is_relative_to(tmp_path / "stemdesk")
    assert load_grid(key) is not None


def test_a_damaged_corrected_grid_is_an_error_not_a_silent_loss(tmp_path):
    key = song_key(song())
    (tmp_path / f"{key}.json").write_text("{not json")
    with pytest.raises(StemdeskError, match="damaged"):
        load_grid(key, tmp_path)
    assert (tmp_path / f"{key}.json").read_text() == "{not json"


def test_saving_into_an_unwritable_place_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StemdeskError):
        save_grid(song_key(song()), uniform_grid(120.0, 5.0), blocker / "grids")


def test_the_analysis_cache_misses_on_another_source_version_or_damage(tmp_path):
    key = song_key(song())
    grid = uniform_grid(120.0, 5.0)
    store_analysis(key, grid, "mix", tmp_path)
    assert np.allclose(load_analysis(key, "mix", tmp_path).beats, grid.beats, atol=1e-5)
    assert load_analysis(key, "htdemucs:identity", tmp_path) is None
    path = next(tmp_path.glob("*.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), "analysis_version": ANALYSIS_VERSION - 1}))
    assert load_analysis(key, "mix", tmp_path) is None
    path.write_text("garbage")
    assert load_analysis(key, "mix", tmp_path) is None


def test_keys_that_are_not_keys_are_refused(tmp_path):
    with pytest.raises(ValueError):
        load_grid("../../etc/passwd", tmp_path)
