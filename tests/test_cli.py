"""The CLI end to end: real model, real files, every kind of bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk.cli import main

ROOT = Path(__file__).resolve().parents[1]


def short_song(demo_audio, path, seconds=2.0, channels=2):
    samples = demo_audio.samples[:, : int(seconds * demo_audio.rate)]
    if channels == 1:
        samples = samples.mean(axis=0, keepdims=True)
    sf.write(path, samples.T, demo_audio.rate, subtype="FLOAT")
    return path


def visible(folder):
    """The files of a song folder but the hidden done-marker (see stemdesk.batch)."""
    return [path for path in folder.iterdir() if not path.name.startswith(".")]


def error_lines(captured):
    return [line for line in captured.err.splitlines() if line.startswith("stemdesk: error:")]


def test_separate_writes_stems_and_rests_that_sum_to_the_song(tmp_path, demo_audio, capsys):
    song = short_song(demo_audio, tmp_path / "song.wav")
    out = tmp_path / "out"
    assert main(["separate", str(song), "-o", str(out), "--rest", "--bit-depth", "float", "--device", "cpu"]) == 0
    folder = out / "song"
    assert sorted(p.name for p in visible(folder)) == [
        "accompaniment.wav", "no_accompaniment.wav", "no_vocals.wav", "vocals.wav"]
    vocals, rate = sf.read(folder / "vocals.wav", dtype="float32")
    accompaniment, _ = sf.read(folder / "accompaniment.wav", dtype="float32")
    no_vocals, _ = sf.read(folder / "no_vocals.wav", dtype="float32")
    mixture, _ = sf.read(song, dtype="float32")
    assert rate == 44100
    np.testing.assert_allclose(vocals + accompaniment, mixture, atol=1e-4)
    np.testing.assert_allclose(no_vocals, accompaniment, atol=1e-4)


def test_stems_choice_flac_and_mono(tmp_path, demo_audio):
    song = short_song(demo_audio, tmp_path / "mono.wav", channels=1)
    out = tmp_path / "out"
    assert main(["separate", str(song), "-o", str(out), "--stems", "vocals", "--format", "flac"]) == 0
    files = visible(out / "mono")
    assert [f.name for f in files] == ["vocals.flac"]
    info = sf.info(files[0])
    assert info.channels == 1 and info.format == "FLAC" and info.subtype == "PCM_24", "24-bit: FLAC has no float"


def make_bad_inputs(folder: Path, demo_audio) -> dict[str, Path]:
    """Every kind of bad input file the CLI must refuse in one line."""
    folder.mkdir()
    bad = {
        "missing": folder / "does-not-exist.wav",
        "directory": folder / "a-folder.wav",
        "empty": folder / "empty.mp3",
        "text": folder / "notes.wav",
        "zero_length": folder / "zero.wav",
        "nan": folder / "nan.wav",
        "three_channels": folder / "surround.wav",
        "truncated_mp3": folder / "truncated.mp3",
    }
    bad["directory"].mkdir()
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("these are my lyrics, not audio\n" * 20)
    sf.write(bad["zero_length"], np.zeros((0, 2), np.float32), 44100)
    nan = np.zeros((4410, 2), np.float32)
    nan[100, 0] = np.nan
    nan[200, 1] = np.inf
    sf.write(bad["nan"], nan, 44100, subtype="FLOAT")
    sf.write(bad["three_channels"], np.zeros((4410, 3), np.float32), 44100)
    # The first bytes of a real mp3: a header and no whole frame.
    bad["truncated_mp3"].write_bytes((ROOT / "resources/demo/audio_example.mp3").read_bytes()[:300])
    return bad


def test_a_batch_with_bad_files_separates_the_good_ones(tmp_path, demo_audio, capsys):
    bad = make_bad_inputs(tmp_path / "in", demo_audio)
    good = [short_song(demo_audio, tmp_path / f"good{i}.wav", seconds=1) for i in range(2)]
    inputs = [good[0], *bad.values(), good[1]]
    out = tmp_path / "out"
    assert main(["separate", *map(str, inputs), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    errors = error_lines(captured)
    assert len(errors) == len(bad), captured.err
    for path, line in zip(bad.values(), errors):
        assert str(path) in line
    assert "Traceback" not in captured.err
    for song in good:
        assert sorted(p.name for p in visible(out / song.stem)) == ["accompaniment.wav", "vocals.wav"]
    # no partial output of any kind for the bad files
    written = {p.relative_to(out).parts[0] for p in out.rglob("*") if p.is_file()}
    assert written == {"good0", "good1"}


def test_unwritable_output_folder(tmp_path, demo_audio, capsys):
    song = short_song(demo_audio, tmp_path / "song.wav", seconds=1)
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    # Refused before the model is even opened: exit 2, nothing separated in vain.
    assert main(["separate", str(song), "-o", str(blocker / "out")]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "output folder" in line.lower() and "is a file" in line


def test_unknown_model_and_unknown_stem(tmp_path, demo_audio, capsys):
    song = short_song(demo_audio, tmp_path / "song.wav", seconds=1)
    assert main(["separate", str(song), "--model", "guitar-9000"]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "Unknown model 'guitar-9000'" in line and "spleeter-2stems" in line
    assert main(["separate", str(song), "--stems", "kazoo", "-o", str(tmp_path)]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "kazoo" in line and "vocals" in line


@pytest.fixture
def model_copy(tmp_path, default_card):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(default_card.card_path, folder / "spleeter-2stems.json")
    shutil.copy(default_card.onnx_path, folder / "spleeter-2stems.onnx")
    return folder


def test_corrupt_onnx_is_refused(tmp_path, demo_audio, model_copy, capsys):
    song = short_song(demo_audio, tmp_path / "song.wav", seconds=1)
    onnx = model_copy / "spleeter-2stems.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    assert main(["separate", str(song), "--model", str(model_copy / "spleeter-2stems.json")]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "corrupt" in line


def test_corrupt_card_is_refused(tmp_path, demo_audio, model_copy, capsys):
    song = short_song(demo_audio, tmp_path / "song.wav", seconds=1)
    card = model_copy / "spleeter-2stems.json"
    card.write_text(card.read_text()[:200])
    assert main(["separate", str(song), "--model", str(card)]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "not valid JSON" in line
    raw = json.loads((ROOT / "models/spleeter-2stems.json").read_text())
    del raw["stems"]
    card.write_text(json.dumps(raw))
    assert main(["separate", str(song), "--model", str(card)]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "spleeter-2stems.json: stems: Field required" in line


def test_models_lists_the_installed_cards(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "spleeter-2stems" in out and "vocals,accompaniment" in out


def test_installed_command_without_arguments_separates_the_demo(tmp_path):
    """The README's main job: `stemdesk separate` on the bundled demo, no traceback, exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "stemdesk.cli", "separate", "-o", str(tmp_path), "--device", "cpu"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in visible(tmp_path / "audio_example")) == ["accompaniment.wav", "vocals.wav"]
    bad = subprocess.run(
        [sys.executable, "-m", "stemdesk.cli", "separate", str(tmp_path / "nope.mp3"), "-o", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith("stemdesk: error:")


@pytest.mark.parametrize("options, message", [
    (["--workers", "0"], "--workers 0: use 1 to"),
    (["--workers", "-3"], "--workers -3: use 1 to"),
    (["--workers", str((os.cpu_count() or 1) + 1)], "(the cores of this machine)"),
    (["--format", "flac", "--bit-depth", "float"], "FLAC holds 16- or 24-bit samples only"),
])
def test_impossible_options_are_refused_before_any_work(tmp_path, options, message, capsys):
    out = tmp_path / "out"
    # The song does not exist: refusing it would be the first work done.
    assert main(["separate", str(tmp_path / "missing.wav"), "-o", str(out), *options]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert not out.exists()
