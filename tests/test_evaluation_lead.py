"""Scoring a lead-guitar model (a substem target): the reference is the song's guitar-lead.wav,
the rhythm guitar is part of the rest, songs without a lead are left out; at every stage."""

import json
import shutil

import numpy as np
import pytest

from stemdesk.audio import Audio, write_audio
from stemdesk.datasets import load_dataset, mixture_audio, stems_audio
from stemdesk.evaluation import bss_eval, global_sdr, main, model_references
from stemdesk.evaluation.ceilings import main as ceilings_main
from stemdesk.evaluation.scoring import excerpt
from stemdesk.evaluation.stages import as_other_stage
from stemdesk.models import ModelCard

RATE = 44_100
SECONDS = 1.5
LENGTH = RATE  # what --seconds 1 scores: the middle second


def tone(frequency: float, level: float) -> np.ndarray:
    """A mono tone with a slow tremolo, ``(1, samples)``."""
    t = np.arange(round(SECONDS * RATE)) / RATE
    return (level * np.sin(2 * np.pi * frequency * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t)))[None].astype(np.float32)


def write_song(folder, stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A song as stemdesk's renderer writes it (mono: BSS Eval is cheap): class stems, and
    guitar-lead.wav and guitar-rhythm.wav beside their sum guitar.wav when a lead plays;
    a cached first stage "bleed.other" (guitars and piano with some bass left in).
    Returns every stem written, the mixture and the first stage's output."""
    folder.mkdir(parents=True)
    guitars = [stems[name] for name in ("guitar-lead", "guitar-rhythm") if name in stems]
    classes = {name: samples for name, samples in stems.items() if not name.startswith("guitar-")}
    classes["guitar"] = np.sum(guitars, axis=0)
    files = {**classes, **(stems if "guitar-lead" in stems else {})}
    for name, samples in files.items():
        write_audio(folder / f"{name}.wav", Audio(samples, RATE), subtype="FLOAT")
    files["mixture"] = np.sum(list(classes.values()), axis=0)
    write_audio(folder / "mixture.wav", Audio(files["mixture"], RATE), subtype="FLOAT")
    files["bleed.other"] = classes["guitar"] + classes["piano"] + 0.3 * classes["bass"]
    write_audio(folder / "bleed.other.wav", Audio(files["bleed.other"], RATE), subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"stems": list(classes)}))
    return files


@pytest.fixture
def data(tmp_path):
    """test/: "lead" with a lead over a loud rhythm guitar, "rhythm only" without a lead."""
    root = tmp_path / "data"
    band = {"drums": tone(3000, 0.2), "bass": tone(82, 0.3), "piano": tone(262, 0.1)}
    guitars = {"guitar-lead": tone(1000, 0.12), "guitar-rhythm": tone(660, 0.25)}
    lead = write_song(root / "test" / "lead", {**band, **guitars})
    write_song(root / "test" / "rhythm only", {**band, "guitar-rhythm": tone(660, 0.25)})
    return root, lead


@pytest.fixture
def lead_model(tmp_path, default_card):
    """A real ONNX mask model carded as a lead-guitar model: the shipped guitar U-Net's
    network under a card whose stems are ("guitar-lead", "rest"), as `stemdesk train
    --target guitar-lead` writes them. (Its quality is beside the point: these tests check
    what it is scored against.)"""
    shipped = default_card.card_path.parent / "guitar-unet.json"
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(shipped.with_suffix(".onnx"), folder)
    card = json.loads(shipped.read_text())
    card.update(id="guitar-lead-unet", name="Lead guitar (test)", stems=["guitar-lead", "rest"])
    card.pop("metrics", None)
    path = folder / "guitar-lead-unet.json"
    path.write_text(json.dumps(card))
    assert ModelCard.load(path).stems == ("guitar-lead", "rest")
    return path


def run(root, model, report, *extra: str) -> int:
    return main(["--model", str(model), "--data", str(root), "--split", "test", "--seconds", "1", "--device", "cpu",
                 "--report", str(report), *extra])


def identity(numbers: dict, stem: str) -> float:
    return numbers["medians"][stem]["identity"]["global_sdr"]


@pytest.mark.parametrize("stage", [[], ["--stage", "other"], ["--stage", "other", "--first-stage", "bleed.other"]],
                         ids=["mix", "other", "through a first stage"])
def test_the_lead_is_scored_against_guitar_lead_and_the_rhythm_guitar_is_in_the_rest(tmp_path, data, lead_model, stage):
    root, song = data
    report = tmp_path / "out" / "lead.md"
    assert run(root, lead_model, report, *stage) == 0

    numbers = json.loads(report.with_suffix(".json").read_text())
    # What the model meets at this stage: the song, the sum of what Demucs' "other" holds, the cached first stage.
    heard = {0: song["mixture"], 2: song["guitar"] + song["piano"], 4: song["bleed.other"]}[len(stage)]
    lead, rhythm, heard = (excerpt(signal, LENGTH) for signal in (song["guitar-lead"], song["guitar-rhythm"], heard))
    assert identity(numbers, "guitar-lead") == pytest.approx(global_sdr(lead, heard), abs=1e-3)
    # Scored against the whole guitar, the identity would read several dB higher.
    assert global_sdr(lead + rhythm, heard) > global_sdr(lead, heard) + 3
    # The rest is the input less the lead alone: with the rhythm guitar in it.
    assert identity(numbers, "rest") == pytest.approx(global_sdr(heard - lead, heard), abs=1e-3)
    assert global_sdr(heard - lead - rhythm, heard) < global_sdr(heard - lead, heard) - 3
    for stem in ("guitar-lead", "rest"):
        assert numbers["medians"][stem]["oracle"]["sdr"] > numbers["medians"][stem]["identity"]["sdr"] + 10
        assert numbers["medians"][stem]["model"]["sdr"] is not None

    # The song without a lead is left out, and the report says so.
    assert {score["track"] for score in numbers["scores"]} == {"lead"}
    text = report.read_text()
    assert "1 of 2 songs scored" in text and "rhythm only" in text.split("no stem to compare")[1]


def test_a_split_without_a_lead_is_a_one_line_error_and_writes_nothing(tmp_path, data, lead_model, capsys):
    root, _ = data
    shutil.rmtree(root / "test" / "lead")
    report = tmp_path / "out" / "lead.md"
    assert run(root, lead_model, report, "--stage", "other") == 2
    # The progress line of the song read, then the error in one line.
    progress, error = capsys.readouterr().err.strip().splitlines()
    assert progress == "[1/1] rhythm only"
    assert error.startswith("stemdesk eval: none of the 1 songs") and "(guitar-lead, rest)" in error
    assert not report.exists() and not report.with_suffix(".json").exists()


def test_a_rendered_song_brings_its_lead_and_rhythm_as_substems(data):
    root, song = data
    with_lead, without = load_dataset(root, "test")
    assert set(with_lead.substems) == {"guitar-lead", "guitar-rhythm"} and without.substems == {}
    stems = {name: audio.samples for name, audio in stems_audio(with_lead, substems=True).items()}
    np.testing.assert_allclose(stems["guitar-lead"] + stems["guitar-rhythm"], stems["guitar"], atol=1e-6)
    assert set(stems_audio(with_lead)) == {"drums", "bass", "piano", "guitar"}
    # Demucs' "other" keeps the guitar's substems; its mix, with no first stage, sums classes only.
    other = as_other_stage(with_lead)
    assert set(other.substems) == {"guitar-lead", "guitar-rhythm"} and set(other.stems) == {"guitar", "piano"}
    np.testing.assert_allclose(mixture_audio(other).samples, song["guitar"] + song["piano"], atol=1e-6)


def test_substem_references_leave_the_rest_of_their_class_to_the_rest():
    stems = {name: np.full((2, 10), value, np.float32) for name, value in
             (("vocals", 0.1), ("guitar-lead", 0.2), ("guitar-rhythm", 0.3), ("bass", 0.4), ("other", 0.5))}
    stems["guitar"] = stems["guitar-lead"] + stems["guitar-rhythm"]
    mixture = sum(stems[name] for name in ("vocals", "guitar", "bass", "other"))

    lead = model_references(("guitar-lead", "rest"), stems, mixture)
    np.testing.assert_array_equal(lead["guitar-lead"], stems["guitar-lead"])
    np.testing.assert_allclose(lead["rest"], mixture - stems["guitar-lead"])
    # "other" beside a lead target is all the model does not separate, the rhythm guitar included.
    band = model_references(("vocals", "guitar-lead", "other"), stems, mixture)
    np.testing.assert_allclose(band["other"], stems["guitar-rhythm"] + stems["bass"] + stems["other"], atol=1e-6)
    # No lead in the song, or guitars hidden in "other" (MUSDB18): nothing to score.
    unsplit = {name: samples for name, samples in stems.items() if not name.startswith("guitar-")}
    assert model_references(("guitar-lead", "rest"), unsplit, mixture) == {}
    assert model_references(("guitar-lead", "rest"), stems, mixture, not_separated=("guitar", "piano")) == {}


def test_the_ceilings_of_the_lead_are_measured_on_the_songs_with_a_lead(tmp_path, data, capsys):
    root, song = data
    common = ["--data", str(root), "--split", "test", "--seconds", "1",
              "--stage", "other", "--first-stage", "bleed.other"]
    assert ceilings_main([*common, "--targets", "guitar-lead", "guitar"]) == 0
    rows = {tuple(line.split()[:2]): line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows[("guitar-lead", "identity")][-2] == "(1" and rows[("guitar", "identity")][-2] == "(2"
    lead, heard = (excerpt(signal, LENGTH) for signal in (song["guitar-lead"], song["bleed.other"]))
    expected = bss_eval(lead[None], heard[None], RATE).sdr[0]
    assert float(rows[("guitar-lead", "identity")][4]) == pytest.approx(expected, abs=0.01)
    for mask in ("ratio-p1", "ratio-p2", "phase-sensitive"):
        assert float(rows[("guitar-lead", mask)][5]) > expected + 10

    shutil.rmtree(root / "test" / "lead")
    assert ceilings_main([*common, "--targets", "guitar-lead", "guitar"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "none of the 1 songs has a guitar-lead stem" in error
