"""Evaluation: the measures on signals with known answers, the references, the whole command."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from stemdesk.audio import Audio, write_audio
from stemdesk.evaluation import bss_eval, global_sdr, main, model_references, oracle_ratio_mask
from stemdesk.models import ModelCard

RATE = 44_100


def noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_global_sdr_is_infinite_for_a_perfect_estimate():
    signal = noise(0, (2, 1000))
    assert global_sdr(signal, signal) == math.inf


def test_global_sdr_of_noise_at_a_hundredth_of_the_energy_is_20_db():
    signal = noise(0, (2, 5000))
    error = noise(1, (2, 5000)).astype(np.float64)
    error *= np.sqrt(np.sum(signal.astype(np.float64) ** 2) / 100 / np.sum(error**2))
    assert global_sdr(signal, signal + error) == pytest.approx(20.0, abs=1e-4)
    assert global_sdr(signal, 0.5 * signal) == pytest.approx(20 * math.log10(2), abs=1e-9)


def test_global_sdr_of_a_silent_reference_is_minus_infinity():
    assert global_sdr(np.zeros((1, 100)), noise(0, (1, 100))) == -math.inf


def test_bss_eval_of_one_source_with_noise_at_minus_20_db():
    reference = noise(0, (1, 2, 2 * RATE))
    estimate = reference + 0.1 * noise(1, reference.shape)
    scores = bss_eval(reference, estimate, RATE)
    # White noise is nearly orthogonal to the 512 delayed copies of the
    # reference that BSS Eval projects on, so SDR and SAR stay near 20 dB;
    # with one source there is no interference.
    assert scores.sdr[0] == pytest.approx(20.0, abs=0.3)
    assert scores.sar[0] == pytest.approx(20.0, abs=0.3)
    assert scores.sir[0] == math.inf


def two_tones(seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A low and a high stereo tone, each ``(2, samples)``."""
    t = np.arange(round(seconds * RATE)) / RATE
    low = 0.3 * np.sin(2 * np.pi * 110 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    high = 0.2 * np.sin(2 * np.pi * 1760 * t)
    return (np.stack([low, 0.8 * low]).astype(np.float32), np.stack([high, 0.6 * high]).astype(np.float32))


def test_oracle_mask_beats_the_identity_and_sums_to_the_mixture(default_card):
    low, high = two_tones()
    mixture = low + high
    references = np.stack([low, high])
    oracle = oracle_ratio_mask(references, mixture, default_card)
    assert oracle.shape == references.shape and oracle.dtype == np.float32
    for reference, estimate in zip(references, oracle):
        assert global_sdr(reference, estimate) > global_sdr(reference, mixture) + 15
    # References that leave part of the mix out: that part is a source of its own.
    partial = oracle_ratio_mask(references[:1], mixture, default_card)
    assert global_sdr(low, partial[0]) > 15
    np.testing.assert_allclose(oracle.sum(axis=0), mixture, atol=1e-4)


def test_model_stems_find_their_references():
    tones = {name: np.full((2, 10), value, np.float32) for name, value in
             (("vocals", 0.1), ("guitar", 0.2), ("bass", 0.3), ("other", 0.4))}
    mixture = sum(tones.values())

    spleeter = model_references(("vocals", "accompaniment"), tones, mixture)
    np.testing.assert_allclose(spleeter["accompaniment"], mixture - tones["vocals"])

    band = model_references(("vocals", "drums", "other"), tones, mixture)
    # No drums in the song: nothing to score. "other" is all the model does not separate.
    assert list(band) == ["vocals", "other"]
    np.testing.assert_allclose(band["other"], tones["guitar"] + tones["bass"] + tones["other"])

    # MUSDB18: guitars hide in "other", so a guitar model has nothing to be scored on...
    assert model_references(("guitar", "rest"), tones, mixture, not_separated=("guitar", "piano")) == {}
    # ...and a model separating guitar cannot be scored on "other" either.
    assert list(model_references(("guitar", "other"), tones, mixture, ("guitar", "piano"))) == []

    quiet = {**tones, "vocals": np.full((2, 10), 1e-6, np.float32)}
    assert model_references(("vocals", "accompaniment"), quiet, mixture) == {}


def write_song(folder, stems: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for name, samples in stems.items():
        write_audio(folder / f"{name}.wav", Audio(samples, RATE), subtype="FLOAT")
    write_audio(folder / "mixture.wav", Audio(sum(stems.values()), RATE), subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"stems": list(stems)}))


def test_the_command_scores_spleeter_and_writes_report_plot_and_numbers(tmp_path):
    # Mono songs: BSS Eval's cost grows with the cube of the channel count.
    low, high = (tone[:1] for tone in two_tones(seconds=1.5))
    t = np.arange(low.shape[1]) / RATE
    voice = (0.2 * np.sin(2 * np.pi * 440 * (t + 0.002 * np.sin(2 * np.pi * 5 * t)))).astype(np.float32)
    write_song(tmp_path / "data" / "test" / "song_a", {"vocals": voice[None], "bass": low, "guitar": high})
    # No vocals: Spleeter has nothing to be scored on in this song.
    write_song(tmp_path / "data" / "test" / "song_b", {"bass": low, "guitar": high})
    report = tmp_path / "out" / "report.md"
    argv = ["--model", "spleeter-2stems", "--data", str(tmp_path / "data"), "--seconds", "1",
            "--device", "cpu", "--report", str(report)]

    assert main(argv) == 0

    text = report.read_text()
    assert "python -m stemdesk.evaluation " + " ".join(argv) in text
    assert "## vocals" in text and "## accompaniment" in text and "](report.png)" in text
    assert "no stem to compare" in text and "song_b" in text
    assert report.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads(report.with_suffix(".json").read_text())
    assert {score["track"] for score in numbers["scores"]} == {"song_a"}
    medians = numbers["medians"]
    assert set(medians) == {"vocals", "accompaniment"}
    for by_method in medians.values():
        assert all(value is not None for method in by_method.values() for value in method.values())
        assert by_method["oracle"]["sdr"] > by_method["identity"]["sdr"]
        assert by_method["oracle"]["global_sdr"] > by_method["identity"]["global_sdr"]


def test_the_command_reports_a_missing_dataset_in_one_line(tmp_path, capsys):
    status = main(["--model", "spleeter-2stems", "--data", str(tmp_path / "none"),
                   "--report", str(tmp_path / "r.md")])
    assert status == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_the_command_scores_a_preset_as_one_split(tmp_path):
    low, high = (tone[:1] for tone in two_tones(seconds=1.5))
    t = np.arange(low.shape[1]) / RATE
    voice = (0.2 * np.sin(2 * np.pi * 440 * (t + 0.002 * np.sin(2 * np.pi * 5 * t)))).astype(np.float32)
    write_song(tmp_path / "data" / "test" / "song_a", {"vocals": voice[None], "bass": low, "guitar": high})
    preset = tmp_path / "voice-band.json"
    preset.write_text(json.dumps({
        "id": "voice-band", "name": "Voice and band", "version": "2.0.0", "kind": "preset",
        "steps": [{"model": "spleeter-2stems", "keep": "vocals"}], "residual": "other",
    }))
    report = tmp_path / "out" / "preset.md"

    assert main(["--model", str(preset), "--data", str(tmp_path / "data"), "--seconds", "1",
                 "--device", "cpu", "--report", str(report)]) == 0

    text = report.read_text()
    assert "# Evaluation of voice-band 2.0.0" in text and "(preset)" in text
    numbers = json.loads(report.with_suffix(".json").read_text())
    # "other" is scored against everything that is not vocals: the bass and the guitar.
    assert set(numbers["medians"]) == {"vocals", "other"}
    assert numbers["model"]["id"] == "voice-band" and len(numbers["model"]["sha256"]) == 64
    other = numbers["medians"]["other"]
    assert other["oracle"]["sdr"] > other["identity"]["sdr"]


def test_into_card_records_the_medians_in_the_card_and_keeps_the_rest(tmp_path, default_card, capsys):
    low, high = (tone[:1] for tone in two_tones(seconds=1.5))
    t = np.arange(low.shape[1]) / RATE
    voice = (0.2 * np.sin(2 * np.pi * 440 * (t + 0.002 * np.sin(2 * np.pi * 5 * t)))).astype(np.float32)
    write_song(tmp_path / "data" / "test" / "song_a", {"vocals": voice[None], "bass": low, "guitar": high})
    models = tmp_path / "models"
    models.mkdir()
    card_path = Path(shutil.copy(default_card.card_path, models))
    shutil.copy(default_card.onnx_path, models)
    before = json.loads(card_path.read_text())
    report = tmp_path / "out" / "report.md"

    assert main(["--model", str(card_path), "--data", str(tmp_path / "data"), "--split", "test", "--seconds", "1",
                 "--device", "cpu", "--report", str(report), "--into-card"]) == 0

    after = json.loads(card_path.read_text())
    recorded = after["metrics"].pop("evaluation")
    assert after == before, "only metrics.evaluation changes"
    medians = json.loads(report.with_suffix(".json").read_text())["medians"]
    assert recorded["median_db"]["vocals"]["model"]["sdr"] == round(medians["vocals"]["model"]["sdr"], 2)
    assert recorded["data"] == "data/test: 1 of 1 songs scored, the middle 1 s of each"
    assert "--into-card" in recorded["command"]
    assert ModelCard.load(card_path).metrics["evaluation"] == recorded

    # A preset has no card of its own to write to: one line, before any song is separated.
    preset = tmp_path / "voice-band.json"
    preset.write_text(json.dumps({"id": "voice-band", "name": "v", "version": "1", "kind": "preset",
                                  "steps": [{"model": "spleeter-2stems", "keep": "vocals"}], "residual": "other"}))
    capsys.readouterr()
    assert main(["--model", str(preset), "--data", str(tmp_path / "data"), "--report", str(report),
                 "--into-card"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
