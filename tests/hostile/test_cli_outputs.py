"""Hostile outputs and models for `stemdesk separate`: read-only and full disks, broken models.

The disks are real: small tmpfs mounts (root only; skipped otherwise), so the
errors are the kernel's EROFS and ENOSPC, not simulated ones.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk.cli import main
from tests.hostile.corpus import demo


def error_lines(captured) -> list[str]:
    return [line for line in captured.err.splitlines() if line.startswith("stemdesk: error:")]


@pytest.fixture
def mount_tmpfs(tmp_path):
    """``mount(size, read_only)``: a fresh tmpfs folder of that size; unmounted afterwards."""
    mounted = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def song(path: Path, seconds: float) -> Path:
    sf.write(path, demo(seconds=seconds), 44100, subtype="FLOAT")
    return path


def test_a_read_only_output_disk_is_refused_before_any_work(tmp_path, mount_tmpfs, capsys):
    disk = mount_tmpfs("1M", read_only=True)
    assert main(["separate", str(song(tmp_path / "a.wav", 0.3)), "-o", str(disk / "stems")]) == 2
    captured = capsys.readouterr()
    (line,) = error_lines(captured)
    assert str(disk) in line and "read-only" in line, line
    assert "Model" not in captured.err, "the model was not even opened"


def test_a_full_disk_fails_that_song_leaves_nothing_partial_and_the_batch_goes_on(tmp_path, mount_tmpfs, capsys,
                                                                                    short_segment_card):
    disk = mount_tmpfs("1M")
    # Two float stems of 3 s are 2 MB: more than the disk; two of 0.3 s fit.
    big, small = song(tmp_path / "big.wav", 3.0), song(tmp_path / "small.wav", 0.3)
    assert main(["separate", str(big), str(small), "-o", str(disk), "--model", str(short_segment_card)]) == 1
    captured = capsys.readouterr()
    (line,) = error_lines(captured)
    assert str(big) in line and "disk is full" in line, line
    assert "Traceback" not in captured.err
    assert sorted(os.listdir(disk)) == ["small"], "no staging folder, no temporary file, no big/ folder"
    assert sorted(name for name in os.listdir(disk / "small") if not name.startswith(".")) == [
        "accompaniment.wav", "vocals.wav"]


def test_a_full_disk_leaves_an_older_set_of_the_song_whole(tmp_path, mount_tmpfs, short_segment_card):
    disk = mount_tmpfs("1M")
    older = disk / "big"
    older.mkdir()
    (older / "vocals.wav").write_bytes(b"older vocals")
    assert main(["separate", str(song(tmp_path / "big.wav", 3.0)), "-o", str(disk), "--model", str(short_segment_card)]) == 1
    assert os.listdir(disk) == ["big"] and os.listdir(older) == ["vocals.wav"]
    assert (older / "vocals.wav").read_bytes() == b"older vocals"


@pytest.fixture
def broken_model(tmp_path, default_card):
    """``make(how)``: a copy of the shipped model, broken ``how``; returns its card path."""
    def make(how: str) -> Path:
        folder = tmp_path / "models"
        folder.mkdir()
        card = folder / default_card.card_path.name
        shutil.copy(default_card.card_path, card)
        if how == "onnx-missing":
            return card
        shutil.copy(default_card.onnx_path, folder)
        if how == "onnx-truncated":
            onnx = folder / default_card.onnx_path.name
            onnx.write_bytes(onnx.read_bytes()[:1000])
        elif how == "card-stems-not-a-list":
            raw = json.loads(card.read_text())
            raw["stems"] = "vocals"
            card.write_text(json.dumps(raw))
        return card
    return make


@pytest.mark.parametrize(("how", "says"), [
    ("onnx-missing", r"spleeter-2stems\.onnx"),
    ("onnx-truncated", r"corrupt|sha256|damaged"),
    ("card-stems-not-a-list", r"stems"),
])
def test_a_broken_model_is_one_line_and_exit_2_before_any_song(tmp_path, broken_model, capsys, how, says):
    out = tmp_path / "out"
    status = main(["separate", str(song(tmp_path / "a.wav", 0.3)), "-o", str(out), "--model", str(broken_model(how))])
    captured = capsys.readouterr()
    assert status == 2 and "Traceback" not in captured.err
    (line,) = error_lines(captured)
    assert re.search(says, line), line
    assert not out.exists()


def test_an_output_folder_squatted_by_a_file_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "stems").write_text("not a folder")
    assert main(["separate", str(song(tmp_path / "a.wav", 0.3)), "-o", str(tmp_path / "stems")]) == 2
    (line,) = error_lines(capsys.readouterr())
    assert "is a file" in line


def test_digital_silence_gives_silent_stems(tmp_path, short_segment_card):
    """Digital silence: masks of 0/0 must not become NaN stems."""
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((30_000, 2), np.float32), 44100)
    assert main(["separate", str(path), "-o", str(tmp_path / "out"), "--model", str(short_segment_card)]) == 0
    vocals, _ = sf.read(tmp_path / "out" / "silence" / "vocals.wav")
    assert np.isfinite(vocals).all() and not vocals.any()
