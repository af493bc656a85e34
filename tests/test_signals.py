"""Real signals sent to a real `stemdesk separate` while it writes stems."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk import DEMO_SONG
from stemdesk.audio import Audio, write_audio

ROOT = Path(__file__).resolve().parents[1]


def start_separating(out: Path, *songs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stemdesk.cli", "separate", *map(str, songs), "-o", str(out), "--rest",
         "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_until_writing(process: subprocess.Popen, out: Path) -> None:
    """Return as soon as the stems' files exist in the staging folder: from then on, until
    the set is swapped in, the song's spans are appended to them as they are separated."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for staging in out.glob(".stemdesk.*.staging"):
            if any(staging.iterdir()):
                return
        time.sleep(0.0005)
    pytest.fail("the stems were never written")


@pytest.fixture
def second_song(tmp_path) -> Path:
    path = tmp_path / "second.wav"
    sf.write(path, np.zeros((44100, 2), np.float32), 44100)
    return path


@pytest.fixture
def older_set(tmp_path) -> Path:
    """``out/audio_example`` holding an older set of stems, which an interrupted run must leave."""
    folder = tmp_path / "out" / "audio_example"
    folder.mkdir(parents=True)
    (folder / "vocals.wav").write_bytes(b"older vocals")
    return folder


@pytest.mark.parametrize(("signum", "exit_status", "line"), [
    (signal.SIGINT, 130, "stemdesk: error: interrupted"),
    (signal.SIGTERM, 143, "stemdesk: error: terminated"),
], ids=["ctrl-c", "sigterm"])
def test_a_signal_while_writing_stops_the_batch_cleanly(tmp_path, second_song, older_set, signum,
                                                        exit_status, line):
    out = tmp_path / "out"
    process = start_separating(out, DEMO_SONG, second_song)
    wait_until_writing(process, out)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == exit_status, stderr
    assert "Traceback" not in stderr and "cannot write" not in stderr, stderr
    assert [text for text in stderr.splitlines() if "error" in text] == [line], stderr
    assert stdout == "", "no song reported done, the second song never started"
    assert sorted(os.listdir(out)) == ["audio_example"], "no staging folder or temporary file is left"
    assert os.listdir(older_set) == ["vocals.wav"] and (older_set / "vocals.wav").read_bytes() == b"older vocals"


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path, second_song, older_set):
    out = tmp_path / "out"
    process = start_separating(out, DEMO_SONG)
    wait_until_writing(process, out)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    leftovers = [name for name in os.listdir(out) if name.startswith(".")]
    assert leftovers and all(name.endswith(".staging") for name in leftovers), leftovers
    assert (older_set / "vocals.wav").read_bytes() == b"older vocals"

    again = start_separating(out, second_song)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert sorted(os.listdir(out)) == ["audio_example", "second"]
    assert (older_set / "vocals.wav").read_bytes() == b"older vocals", "another song's set is not touched"


@pytest.mark.parametrize("delay_ms", [2, 5, 10, 20, 40])
def test_ctrl_c_inside_a_stem_write_is_an_interrupt_not_a_failed_write(tmp_path, delay_ms):
    """A real SIGINT from a timer thread lands in the middle of write_audio, often inside
    libsndfile's write callback: it must come out as KeyboardInterrupt and leave no file."""
    audio = Audio(np.random.default_rng(delay_ms).uniform(-0.5, 0.5, (2, 3_000_000)).astype(np.float32), 44100)
    timer = threading.Timer(delay_ms / 1000, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            write_audio(tmp_path / "vocals.wav", audio, "PCM_24")
            time.sleep(1)  # a write faster than the timer: the interrupt comes here instead
    finally:
        timer.join()
    assert os.listdir(tmp_path) == [] or os.listdir(tmp_path) == ["vocals.wav"]
    assert not list(tmp_path.glob(".*")), "no temporary file is left"
