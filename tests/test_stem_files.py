"""Stems on disk: they sum to the song, land in their own folder, and replace an older set whole."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk.cli import main
from stemdesk.errors import StemdeskError
from stemdesk.leftovers import owner_tag
from stemdesk.models import ModelCard
from stemdesk.separate import Separator
from stemdesk.stem_files import folder_name, folder_names, recover_output_folder
from stemdesk.streamed_stems import separate_file_streamed

# libsndfile writes x * 32767 and reads n / 32768 back: a step per file near full scale, and
# the rounding of each of the stems adds up in their sum.
PCM_16_STEP = 2.0**-15


def hot_song(demo_audio, path: Path, peak: float, seconds: float = 1.5) -> np.ndarray:
    """A float WAV of the demo's start scaled to ``peak``; returns its samples (channels, samples)."""
    samples = demo_audio.samples[:, 44100 : 44100 + int(seconds * demo_audio.rate)]
    samples = samples * np.float32(peak / np.abs(samples).max())
    sf.write(path, samples.T, demo_audio.rate, subtype="FLOAT", format="WAV")
    return samples


def read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0].T


def sum_of(folder: Path, names=("vocals", "accompaniment"), suffix=".wav") -> np.ndarray:
    return sum(read(folder / f"{name}{suffix}").astype(np.float64) for name in names)


@pytest.fixture(scope="module")
def separator(short_segment_card):
    return Separator(ModelCard.load(short_segment_card), device="cpu")


# --- the stems sum to the song ----------------------------------------------------------------


@pytest.mark.parametrize("peak", [1.0, 1.5, 8.0], ids=["full-scale", "1.5", "far-above"])
def test_default_float_stems_sum_to_a_song_at_and_above_full_scale(tmp_path, demo_audio, capsys, peak,
                                                                   short_segment_card):
    samples = hot_song(demo_audio, tmp_path / "hot.wav", peak)
    assert main(["separate", str(tmp_path / "hot.wav"), "-o", str(tmp_path / "out"), "--rest",
                 "--model", str(short_segment_card)]) == 0
    folder = tmp_path / "out" / "hot"
    assert sf.info(folder / "vocals.wav").subtype == "FLOAT"
    np.testing.assert_allclose(sum_of(folder), samples, rtol=0, atol=1e-6 * peak)
    np.testing.assert_allclose(read(folder / "no_vocals.wav"), samples - read(folder / "vocals.wav"),
                               rtol=0, atol=1e-6 * peak)
    assert "lowered" not in capsys.readouterr().err


@pytest.mark.parametrize(("bit_depth", "file_format", "step"), [("16", "wav", PCM_16_STEP),
                                                               ("24", "flac", 2.0**-23)])
def test_integer_stems_of_a_hot_song_share_one_gain_and_still_sum_to_it(tmp_path, demo_audio, capsys,
                                                                         bit_depth, file_format, step,
                                                                         short_segment_card):
    samples = hot_song(demo_audio, tmp_path / "hot.wav", 1.5)
    out = tmp_path / "out"
    assert main(["separate", str(tmp_path / "hot.wav"), "-o", str(out), "--rest", "--model", str(short_segment_card),
                 "--bit-depth", bit_depth, "--format", file_format]) == 0
    err = capsys.readouterr().err
    (note,) = [line for line in err.splitlines() if "lowered by" in line]
    gain_db = float(note.split("lowered by ")[1].split(" dB")[0])
    assert f"{bit_depth}-bit" in note and 3.5 <= gain_db <= 12, note
    folder = out / "hot"
    stems = {name: read(folder / f"{name}.{file_format}") for name in
             ("vocals", "accompaniment", "no_vocals", "no_accompaniment")}
    assert max(np.abs(stem).max() for stem in stems.values()) == pytest.approx(1.0, abs=2 * step)
    gain = 10 ** (-gain_db / 20)
    # The note rounds to 0.1 dB; the sum pins the gain exactly.
    total = stems["vocals"].astype(np.float64) + stems["accompaniment"]
    exact_gain = float(np.sum(total * samples) / np.sum(samples.astype(np.float64) ** 2))
    assert exact_gain == pytest.approx(gain, rel=0.012)
    np.testing.assert_allclose(total, exact_gain * samples, rtol=0, atol=3 * step)
    np.testing.assert_allclose(stems["no_vocals"], exact_gain * samples - stems["vocals"], rtol=0, atol=3 * step)


def test_a_song_within_full_scale_gets_no_gain_in_16_bit(tmp_path, demo_audio, separator):
    song = tmp_path / "quiet.wav"
    samples = hot_song(demo_audio, song, 0.5)
    written = separate_file_streamed(separator, song, tmp_path / "out", subtype="PCM_16")
    assert written.gain == 1.0 and written.gain_note() is None
    np.testing.assert_allclose(sum_of(tmp_path / "out" / "quiet"), samples, rtol=0, atol=3 * PCM_16_STEP)


# --- every song its own folder, inside -o ----------------------------------------------------------


@pytest.mark.parametrize(("file_name", "folder"), [
    ("take.wav", "take"), ("..wav", "song"), ("...wav", "song"), (".hidden.wav", "hidden"),
    ("  spaced out .wav", "spaced out"), ("-leading-dash.wav", "-leading-dash"), ("née 曲.mp3", "née 曲"),
    ("no suffix", "no suffix"), ("a.b.c.wav", "a.b.c"),
])
def test_folder_names_never_leave_or_hide_in_the_output_folder(file_name, folder):
    assert folder_name(Path("/music/in") / file_name) == folder


def test_folder_names_of_a_batch_are_distinct_in_order():
    songs = ["a/take.wav", "b/take.wav", "song.wav", "song.mp3", "c/Take.flac", "take-2.wav"]
    assert folder_names(songs) == ["take", "take-2", "song", "song-2", "Take-3", "take-2-2"]


def test_a_batch_of_same_named_songs_gives_each_its_own_folder(tmp_path, demo_audio, capsys, short_segment_card):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inputs = [tmp_path / "a/take.wav", tmp_path / "b/take.wav", tmp_path / "song.wav"]
    songs = [hot_song(demo_audio, path, peak, seconds=1) for path, peak in zip(inputs, (0.9, 0.3, 0.6))]
    out = tmp_path / "out"
    assert main(["separate", *map(str, inputs), "-o", str(out), "--model", str(short_segment_card)]) == 0
    assert sorted(os.listdir(out)) == ["song", "take", "take-2"]
    for folder, samples in zip(("take", "take-2", "song"), songs):
        np.testing.assert_allclose(sum_of(out / folder), samples, rtol=0, atol=1e-6)
    printed = capsys.readouterr().out
    assert f"{inputs[1]} -> {out / 'take-2'}" in printed


def test_a_song_named_dot_dot_stays_inside_the_output_folder(tmp_path, demo_audio, short_segment_card):
    (tmp_path / "in").mkdir()
    hot_song(demo_audio, tmp_path / "in" / "..wav", 0.5, seconds=1)
    out = tmp_path / "deep" / "out"
    assert main(["separate", str(tmp_path / "in" / "..wav"), "-o", str(out), "--model", str(short_segment_card)]) == 0
    assert sorted(os.listdir(out)) == ["song"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "in"]


# --- a song's stems replace an older set all together, or not at all --------------------------------




def test_a_new_set_replaces_the_whole_older_one(tmp_path, demo_audio, separator):
    song = tmp_path / "song.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    separate_file_streamed(separator, song, tmp_path, rest=True)
    assert sorted(os.listdir(tmp_path / "song")) == [
        "accompaniment.wav", "no_accompaniment.wav", "no_vocals.wav", "vocals.wav"]
    separate_file_streamed(separator, song, tmp_path, stems=["vocals"], file_format="flac")
    # No stale rests or WAVs of the older run beside the new set.
    assert os.listdir(tmp_path / "song") == ["vocals.flac"]
    assert sorted(os.listdir(tmp_path)) == ["song", "song.wav"], "no staging or old folder left"


def test_a_failure_while_swapping_sets_leaves_the_older_set_whole(tmp_path, demo_audio, separator, monkeypatch):
    song = tmp_path / "song.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    separate_file_streamed(separator, song, tmp_path)
    before = {name: (tmp_path / "song" / name).read_bytes() for name in os.listdir(tmp_path / "song")}
    hot_song(demo_audio, song, 0.9, seconds=1)

    real_replace = os.replace

    def replace(source, target):
        # Fault injection: the rename that moves the staged new set in fails, as on a full
        # or vanished disk; moving the older set aside (the rename before it) worked.
        if Path(source).name.endswith(".staging") and Path(source).is_dir():
            raise OSError(5, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(StemdeskError, match="Input/output error"):
        separate_file_streamed(separator, song, tmp_path)
    monkeypatch.undo()
    after = {name: (tmp_path / "song" / name).read_bytes() for name in os.listdir(tmp_path / "song")}
    assert after == before
    assert sorted(os.listdir(tmp_path)) == ["song", "song.wav"]


def test_a_swap_cut_off_by_a_kill_is_undone_by_the_next_run(tmp_path):
    """Killed between its two renames: the older set sits aside, the journal names its folder."""
    dead = owner_tag().replace(f"-{os.getpid()}-", "-999999999-")
    old = tmp_path / f".stemdesk.{dead}.old"
    old.mkdir()
    (old / "vocals.wav").write_bytes(b"older set")
    (tmp_path / f".stemdesk.{dead}.swap").write_text("take")
    (tmp_path / f".stemdesk.{dead}.staging").mkdir()
    (tmp_path / f".stemdesk.{dead}.staging" / "vocals.wav").write_bytes(b"half")
    (tmp_path / f".vocals.wav.{dead}.part").write_bytes(b"half")
    (tmp_path / ".vocals.1a2b3c4d.staging.wav").write_bytes(b"left by an older version")
    alive = owner_tag()
    (tmp_path / f".stemdesk.{alive}.staging").mkdir()

    recover_output_folder(tmp_path)

    assert sorted(os.listdir(tmp_path)) == [f".stemdesk.{alive}.staging", "take"]
    assert (tmp_path / "take" / "vocals.wav").read_bytes() == b"older set"


def test_a_file_refused_leaves_no_folder(tmp_path, separator):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(StemdeskError):
        separate_file_streamed(separator, bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_holding_the_musicians_own_files_is_not_replaced(tmp_path, demo_audio, separator):
    song = tmp_path / "song.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    (tmp_path / "out" / "song").mkdir(parents=True)
    (tmp_path / "out" / "song" / "notes.txt").write_text("bar 12: the bridge")
    with pytest.raises(StemdeskError, match="notes.txt"):
        separate_file_streamed(separator, song, tmp_path / "out")
    assert os.listdir(tmp_path / "out" / "song") == ["notes.txt"]


def test_a_song_inside_the_folder_its_stems_would_replace_is_refused(tmp_path, demo_audio, separator):
    """`separate out/take/take.wav -o out` would swap away the folder holding the song itself."""
    (tmp_path / "out" / "take").mkdir(parents=True)
    song = tmp_path / "out" / "take" / "take.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    with pytest.raises(StemdeskError, match="the song itself is in that folder"):
        separate_file_streamed(separator, song, tmp_path / "out")
    assert os.listdir(tmp_path / "out" / "take") == ["take.wav"]


def test_a_file_squatting_the_song_folder_name_is_refused(tmp_path, demo_audio, separator):
    song = tmp_path / "song.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "song").write_text("a file, not a folder")
    with pytest.raises(StemdeskError, match="not a folder"):
        separate_file_streamed(separator, song, tmp_path / "out")
    assert (tmp_path / "out" / "song").read_text() == "a file, not a folder"


def test_a_set_another_run_put_in_place_meanwhile_is_replaced_whole(tmp_path, demo_audio, separator, monkeypatch):
    song = tmp_path / "song.wav"
    hot_song(demo_audio, song, 0.5, seconds=1)
    real_replace = os.replace
    raced = []

    def replace(source, target):
        # Another stemdesk finishes the same song just before our rename.
        if Path(source).name.endswith(".staging") and not raced:
            raced.append(True)
            Path(target).mkdir()
            (Path(target) / "vocals.wav").write_bytes(b"the other run's set")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    written = separate_file_streamed(separator, song, tmp_path / "out")
    monkeypatch.undo()
    assert raced and sorted(os.listdir(tmp_path / "out" / "song")) == ["accompaniment.wav", "vocals.wav"]
    assert (tmp_path / "out" / "song" / "vocals.wav").read_bytes() != b"the other run's set"
    assert written.paths[0].parent == tmp_path / "out" / "song" and os.listdir(tmp_path / "out") == ["song"]
