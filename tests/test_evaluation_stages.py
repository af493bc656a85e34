"""Scoring a second-stage model on what Demucs' "other" holds: the stems' sum, or a first
stage's cached output (the whole chain)."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio, decode, write_audio
from stemdesk.evaluation import global_sdr, main
from stemdesk.evaluation.scoring import excerpt

RATE = 44_100
SECONDS = 1.5


def tone(frequency: float, level: float) -> np.ndarray:
    """A mono tone with a slow tremolo, ``(1, samples)``."""
    t = np.arange(round(SECONDS * RATE)) / RATE
    return (level * np.sin(2 * np.pi * frequency * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t)))[None].astype(np.float32)


@pytest.fixture
def song(tmp_path):
    """One rendered-layout song with drums, bass, guitar and piano (mono: BSS Eval is cheap),
    and a cached "first stage" beside it: guitar and piano with some bass left in."""
    stems = {"drums": tone(3000, 0.2), "bass": tone(82, 0.3), "guitar": tone(660, 0.15), "piano": tone(262, 0.15)}
    folder = tmp_path / "data" / "test" / "song"
    folder.mkdir(parents=True)
    for name, samples in stems.items():
        write_audio(folder / f"{name}.wav", Audio(samples, RATE), subtype="FLOAT")
    write_audio(folder / "mixture.wav", Audio(sum(stems.values()), RATE), subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"stems": list(stems)}))
    bleed = stems["guitar"] + stems["piano"] + 0.3 * stems["bass"]
    write_audio(folder / "bleed.other.wav", Audio(bleed, RATE), subtype="FLOAT")
    return folder, stems


def identity_global_sdr(report) -> float:
    return json.loads(report.with_suffix(".json").read_text())["medians"]["guitar"]["identity"]["global_sdr"]


def run(tmp_path, *extra: str) -> int:
    return main(["--model", "guitar-unet", "--data", str(tmp_path / "data"), "--seconds", "1", "--device", "cpu",
                 "--report", str(tmp_path / "out" / "r.md"), *extra])


def test_the_other_stage_scores_on_the_sum_of_what_demucs_other_holds(tmp_path, song):
    folder, stems = song
    report = tmp_path / "out" / "r.md"
    length = round(1.0 * RATE)
    assert run(tmp_path) == 0
    on_song = identity_global_sdr(report)
    assert on_song == pytest.approx(global_sdr(excerpt(stems["guitar"], length), excerpt(sum(stems.values()), length)), abs=1e-3)
    assert run(tmp_path, "--stage", "other") == 0
    other = stems["guitar"] + stems["piano"]
    assert identity_global_sdr(report) == pytest.approx(
        global_sdr(excerpt(stems["guitar"], length), excerpt(other, length)), abs=1e-3)
    # Without drums and bass in the way, doing nothing already scores higher.
    assert identity_global_sdr(report) > on_song + 3
    numbers = json.loads(report.with_suffix(".json").read_text())["medians"]
    assert numbers["guitar"]["oracle"]["sdr"] > numbers["guitar"]["identity"]["sdr"]


def test_songs_without_anything_demucs_other_would_hold_are_left_out(tmp_path, song):
    folder = tmp_path / "data" / "test" / "rhythm section"
    folder.mkdir()
    stems = {"drums": tone(3000, 0.2), "bass": tone(82, 0.3)}
    for name, samples in stems.items():
        write_audio(folder / f"{name}.wav", Audio(samples, RATE), subtype="FLOAT")
    write_audio(folder / "mixture.wav", Audio(sum(stems.values()), RATE), subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"stems": list(stems)}))
    assert run(tmp_path, "--stage", "other") == 0
    numbers = json.loads((tmp_path / "out" / "r.json").read_text())
    assert {score["track"] for score in numbers["scores"]} == {"song"}


def test_with_a_first_stage_it_scores_on_that_stages_cached_output(tmp_path, song):
    folder, stems = song
    report = tmp_path / "out" / "r.md"
    length = round(1.0 * RATE)
    assert run(tmp_path, "--stage", "other", "--first-stage", "bleed.other") == 0
    cached = decode(folder / "bleed.other.wav").samples
    assert identity_global_sdr(report) == pytest.approx(
        global_sdr(excerpt(stems["guitar"], length), excerpt(cached, length)), abs=1e-3)
    assert "--first-stage bleed.other" in report.read_text()


def test_a_missing_first_stage_or_one_without_the_stage_is_a_one_line_error(tmp_path, song, capsys):
    assert run(tmp_path, "--stage", "other", "--first-stage", "htdemucs.other") == 2
    error = capsys.readouterr().err
    assert "stemdesk.training.first_stage" in error and error.strip().count("\n") == 0
    assert run(tmp_path, "--first-stage", "bleed.other") == 2
    assert "only applies with --stage other" in capsys.readouterr().err
    assert not (tmp_path / "out" / "r.md").exists()


def test_the_ceilings_of_a_mask_are_reported_for_each_kind_and_stft(tmp_path, song, capsys):
    from stemdesk.evaluation.ceilings import main as ceilings_main

    common = ["--data", str(tmp_path / "data"), "--split", "test", "--targets", "guitar", "piano", "--seconds", "1"]
    assert ceilings_main([*common, "--stage", "other", "--first-stage", "bleed.other", "--stft", "4096:1024", "1024:256"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    identity = {words[0]: float(words[4]) for words in lines if words[1] == "identity"}
    rows = {tuple(words[:3]): float(words[5]) for words in lines if words[1] != "identity"}
    assert len(rows) == 2 * 3 * 2 and set(identity) == {"guitar", "piano"}
    for target in ("guitar", "piano"):
        for stft in ("4096:1024", "1024:256"):
            # The best real mask is at least as good as either ratio mask, which beat doing nothing by far.
            assert rows[(target, "phase-sensitive", stft)] >= rows[(target, "ratio-p1", stft)] - 0.1
            assert rows[(target, "ratio-p1", stft)] > 10
            assert rows[(target, "ratio-p1", stft)] > identity[target] + 10


def test_the_ceilings_command_says_what_is_wrong_in_one_line(tmp_path, song, capsys):
    from stemdesk.evaluation.ceilings import main as ceilings_main

    assert ceilings_main(["--data", str(tmp_path / "nowhere"), "--targets", "guitar"]) == 2
    assert ceilings_main(["--data", str(tmp_path / "data"), "--targets", "guitar", "--stage", "other",
                          "--first-stage", "missing.other"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "missing.other" in errors[1]
