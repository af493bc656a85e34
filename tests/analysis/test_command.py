"""``stemdesk beats``: summary, JSON file, cache and the user's corrections, bad input."""

import json

import numpy as np
import pytest

from stemdesk.analysis import save_grid, song_key, song_grid, uniform_grid
from stemdesk.audio import decode, write_audio
from stemdesk.cli import main

from .signals import click_track


@pytest.fixture
def click_file(tmp_path):
    audio, truth = click_track(100.0, 20.0)
    path = tmp_path / "click.wav"
    write_audio(path, audio, "PCM_16")
    return path, truth


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_beats_prints_a_summary_and_writes_the_json(click_file, tmp_path, capsys):
    path, truth = click_file
    out = tmp_path / "grid.json"
    assert main(["beats", str(path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "100.0 bpm" in printed and "4 beats a bar" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"bpm", "meter", "beats", "downbeats"}
    assert data["bpm"] == pytest.approx(100.0, rel=0.005) and data["meter"] == 4
    beats = np.array(data["beats"])
    assert np.max(np.min(np.abs(beats[None, :] - truth[:, None]), axis=1)) < 0.02
    assert np.max(np.min(np.abs(np.array(data["downbeats"])[None, :] - truth[::4, None]), axis=1)) < 0.02
    assert not list(tmp_path.glob(".*.part"))


def test_a_corrected_grid_wins_and_the_analysis_is_cached(click_file, tmp_path, capsys):
    path, _ = click_file
    mixture = decode(path)
    first, corrected = song_grid(mixture, cache_root=tmp_path / "cache")
    assert not corrected
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"{song_key(mixture)}-mix.json"]
    again = song_grid(mixture, cache_root=tmp_path / "cache")[0]
    assert np.allclose(again.beats, first.beats, atol=1e-5) and again.meter == first.meter
    save_grid(song_key(mixture), uniform_grid(50.0, first.duration, meter=3))
    assert main(["beats", str(path)]) == 0
    assert "50.0 bpm, 3 beats a bar" in capsys.readouterr().out
    assert main(["beats", str(path), "--ignore-corrections"]) == 0
    assert "100.0 bpm" in capsys.readouterr().out


def test_a_file_that_is_not_audio_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "song.wav"
    bad.write_bytes(b"not audio at all")
    out = tmp_path / "grid.json"
    assert main(["beats", str(bad), "--json", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("stemdesk: error:") and len(error.strip().splitlines()) == 1
    assert not out.exists()
