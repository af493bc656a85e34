"""Batches at scale: folders, done-markers and resuming, local processes, Ray, streamed writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk.audio import Audio, decode, resample
from stemdesk.batch import DONE_MARKER, BatchOptions, find_songs, run_batch
from stemdesk.cli import main
from stemdesk.exports import export_rest, export_stems
from stemdesk.stem_files import REST_PREFIX, song_gain
from stemdesk.streamed_stems import separate_file_streamed

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = BatchOptions(model="spleeter-2stems", device="cpu")


def write_song(path: Path, audio: Audio, seconds: float, subtype="FLOAT") -> Path:
    """The demo tiled or cut to ``seconds``, as a file."""
    frames = int(seconds * audio.rate)
    reps = -(-frames // audio.num_samples)
    samples = np.tile(audio.samples, reps)[:, :frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples.T, audio.rate, subtype=subtype)
    return path


def stem_files(folder: Path) -> dict[str, np.ndarray]:
    return {path.name: sf.read(path, dtype="float32", always_2d=True)[0]
            for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


def whole_song_files(separator, song: Path, folder: Path, rest: bool = False, subtype: str = "FLOAT") -> Path:
    """The window's way to the same files: the song decoded whole, separated whole, exported with its one gain."""
    mixture = decode(song)
    stems = separator.separate(mixture)
    gain = song_gain(stems, mixture, subtype)
    folder.mkdir()
    export_stems(stems, None, folder, subtype=subtype, gain=gain)
    if rest:
        for name in stems:
            export_rest(stems, mixture, name, folder / f"{REST_PREFIX}{name}.wav", subtype, gain)
    return folder


def run_cli(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stemdesk.cli", "separate", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, **popen,
    )


@pytest.mark.parametrize("subtype, rest", [("PCM_16", False), ("FLOAT", True)])
def test_streamed_stem_files_equal_the_whole_song_path(tmp_path, separator, demo_audio, subtype, rest):
    # 48 kHz so that both resamplers stream; 25 s so that several chunks and blocks pass.
    song = write_song(tmp_path / "song.wav", resample(demo_audio, 48000), 25.0)
    whole = whole_song_files(separator, song, tmp_path / "whole", rest=rest, subtype=subtype)
    streamed = separate_file_streamed(separator, song, tmp_path / "streamed", rest=rest, subtype=subtype).paths
    expected, got = stem_files(whole), stem_files(streamed[0].parent)
    assert sorted(path.name for path in streamed) == sorted(got) == sorted(expected)
    for name in expected:
        assert np.array_equal(got[name], expected[name]), name
    if subtype == "FLOAT":
        mixture = sf.read(song, dtype="float32")[0]
        assert np.abs(got["vocals.wav"] + got["accompaniment.wav"] - mixture).max() < 1e-6


def test_a_song_bad_halfway_leaves_nothing(tmp_path, separator, demo_audio):
    samples = np.tile(demo_audio.samples, 3)
    samples[0, -1000] = np.nan  # found only in the last blocks, after stems were staged
    song = tmp_path / "late-nan.wav"
    sf.write(song, samples.T, demo_audio.rate, subtype="FLOAT")
    with pytest.raises(Exception, match="NaN"):
        separate_file_streamed(separator, song, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


def test_a_folder_is_searched_and_done_songs_are_skipped(tmp_path, demo_audio, capsys):
    library = tmp_path / "library"
    write_song(library / "album1" / "take.wav", demo_audio, 2.0)
    write_song(library / "album2" / "take.flac", demo_audio, 2.0, subtype="PCM_16")
    write_song(library / "album2" / "deeper" / "solo.wav", demo_audio, 1.0)
    write_song(library / ".trash" / "old.wav", demo_audio, 1.0)  # hidden: not a song of the library
    (library / "album2" / "cover.jpg").write_bytes(b"\xff\xd8 not audio")
    out = tmp_path / "out"
    assert main(["separate", str(library), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3 songs: 3 done, 0 skipped, 0 failed" in captured.err
    folders = sorted(str(path.parent.relative_to(out)) for path in out.rglob(DONE_MARKER))
    assert folders == ["album1/take", "album2/deeper/solo", "album2/take"]
    marker = json.loads((out / "album1" / "take" / DONE_MARKER).read_text())
    assert marker["files"] == ["vocals.wav", "accompaniment.wav"]

    assert main(["separate", str(library), "-o", str(out)]) == 0
    assert "3 songs: 0 done, 3 skipped, 0 failed" in capsys.readouterr().err

    # What invalidates a done song: an edited input, a lost stem, other options.
    edited = library / "album1" / "take.wav"
    os.utime(edited, ns=(time.time_ns(), time.time_ns()))
    (out / "album2" / "take" / "vocals.wav").unlink()
    assert main(["separate", str(library), "-o", str(out)]) == 0
    assert "3 songs: 2 done, 1 skipped, 0 failed" in capsys.readouterr().err
    assert main(["separate", str(library), "-o", str(out), "--stems", "vocals"]) == 0
    assert "3 songs: 3 done, 0 skipped, 0 failed" in capsys.readouterr().err


def test_an_empty_folder_is_a_failed_job(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["separate", str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 1
    assert "no audio files in this folder" in capsys.readouterr().err


def test_an_interrupted_batch_resumes_where_it_stopped(tmp_path, demo_audio):
    library = tmp_path / "library"
    for index in range(3):
        write_song(library / f"song{index}.wav", demo_audio, 40.0)
    out = tmp_path / "out"
    process = run_cli(library, "-o", out, "--device", "cpu")
    deadline = time.monotonic() + 120
    while not (out / "song0" / DONE_MARKER).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second song
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert (out / "song0" / DONE_MARKER).exists()
    # Nothing half-written of the interrupted song: no staged or temporary file.
    assert not [path for path in out.rglob("*") if ".staging" in path.name or path.suffix == ".part"]
    assert not (out / "song2").exists()

    done_before = sum((out / f"song{i}" / DONE_MARKER).exists() for i in range(3))
    assert done_before < 3

    resumed = run_cli(library, "-o", out, "--device", "cpu")
    _, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err
    assert f"3 songs: {3 - done_before} done, {done_before} skipped, 0 failed" in err
    assert all((out / f"song{i}" / DONE_MARKER).exists() for i in range(3))


def test_jobs_run_in_processes_with_the_same_stems_and_a_bad_song_stops_nothing(tmp_path, demo_audio):
    library = tmp_path / "library"
    for index in range(3):
        write_song(library / f"song{index}.wav", demo_audio, 3.0)
    (library / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    serial = run_batch(find_songs([library], tmp_path / "serial"), OPTIONS, processes=1)
    results = []
    parallel = run_batch(find_songs([library], tmp_path / "parallel"), OPTIONS, processes=2, report=results.append)
    assert (serial.done, serial.failed) == (parallel.done, parallel.failed) == (3, 1)
    assert sorted(result.song.name for result in results if result.status == "failed") == ["broken.wav"]
    for index in range(3):
        expected = stem_files(tmp_path / "serial" / f"song{index}")
        got = stem_files(tmp_path / "parallel" / f"song{index}")
        assert all(np.array_equal(got[name], expected[name]) for name in expected)


def test_ctrl_c_stops_every_job_and_leaves_nothing_partial(tmp_path, demo_audio):
    library = tmp_path / "library"
    for index in range(4):
        write_song(library / f"song{index}.wav", demo_audio, 60.0)
    out = tmp_path / "out"
    # A process group of its own, as a terminal gives: Ctrl-C reaches the CLI and its workers.
    process = run_cli(library, "-o", out, "--device", "cpu", "--jobs", "2", start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.rglob(".stemdesk.*.staging")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=90)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    leftovers = [path for path in out.rglob("*") if ".staging" in path.name]
    assert leftovers == []
    # No worker outlived the batch (multiprocessing's resource tracker may take a moment).
    deadline = time.monotonic() + 10
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(process.pid) == []


def session_processes(session: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "pid=,args=", "-s", str(session)], capture_output=True, text=True)
    return listing.stdout.splitlines()


def test_ray_runs_the_same_task_on_a_local_cluster(tmp_path, demo_audio):
    ray = pytest.importorskip("ray")
    library = tmp_path / "library"
    for index in range(2):
        write_song(library / f"song{index}.wav", demo_audio, 3.0)
    (library / "broken.mp3").write_bytes(b"ID3 not really")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        results = []
        summary = run_batch(find_songs([library], tmp_path / "ray"), OPTIONS, processes=2, use_ray=True,
                            report=results.append)
        again = run_batch(find_songs([library], tmp_path / "ray"), OPTIONS, processes=2, use_ray=True)
    finally:
        ray.shutdown()
    assert (summary.done, summary.failed) == (2, 1)
    assert (again.skipped, again.failed) == (2, 1)
    serial = run_batch(find_songs([library], tmp_path / "here"), OPTIONS)
    for index in range(2):
        expected = stem_files(tmp_path / "here" / f"song{index}")
        got = stem_files(tmp_path / "ray" / f"song{index}")
        assert all(np.array_equal(got[name], expected[name]) for name in expected)
    assert serial.done == 2


def test_a_preset_streams_too_with_the_same_stems(tmp_path, demo_audio):
    from stemdesk.catalogue import Catalogue

    band = Catalogue().open("band-lite", device="cpu")
    song = write_song(tmp_path / "song.wav", resample(demo_audio, 48000), 16.0)
    whole = whole_song_files(band, song, tmp_path / "whole")
    separate_file_streamed(band, song, tmp_path / "streamed", subtype="FLOAT")
    expected, got = stem_files(whole), stem_files(tmp_path / "streamed" / "song")
    assert sorted(got) == sorted(expected) == sorted(f"{stem}.wav" for stem in band.stems)
    for name in expected:
        assert np.array_equal(got[name], expected[name]), name
