"""Second-stage data: inputs of what Demucs' "other" holds, the lead guitar as a target, and a
first stage's output cached per song and drawn for a share of the chunks."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from stemdesk.audio import Audio, decode  # noqa: E402
from stemdesk.errors import StemdeskError  # noqa: E402
from stemdesk.instruments import CLASSES  # noqa: E402
from stemdesk.models import ModelCard  # noqa: E402
from stemdesk.training.chunk_dataset import ChunkDataset, MixingOptions, stem_set  # noqa: E402
from stemdesk.training.first_stage import cache_name, cache_split, separator_stage  # noqa: E402
from stemdesk.training.train import TrainingConfig, main  # noqa: E402

RATE = 44100
SECONDS = 1.5
#: Each stem a sine of its own pitch, so a chunk's content tells which stems are in it.
PITCH = {"vocals": 2000.0, "drums": 3000.0, "bass": 110.0, "guitar-lead": 1000.0, "guitar-rhythm": 660.0,
         "piano": 440.0, "other": 1500.0}


def share_near(samples: np.ndarray, pitch: float) -> float:
    """Fraction of the energy of ``samples`` within 3 % of ``pitch``."""
    power = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[-1]), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(samples.shape[-1], 1 / RATE)
    return float(power[..., np.abs(freqs - pitch) < 0.03 * pitch].sum() / max(power.sum(), 1e-30))


def write_song(folder: Path, stems: dict[str, np.ndarray], split_guitars: bool = True) -> None:
    """A rendered song as the synth writes it: class stems, guitar substems when a lead
    plays, the mixture, and metadata saying (or, for an old render, not saying) which
    guitar part went to which stem."""
    folder.mkdir(parents=True)
    classes = {name: stems[name] for name in CLASSES if name in stems}
    guitars = [stems[name] for name in ("guitar-lead", "guitar-rhythm") if name in stems]
    if guitars:
        classes["guitar"] = np.sum(guitars, axis=0)
        if "guitar-lead" in stems:
            for name in ("guitar-lead", "guitar-rhythm"):
                if name in stems:
                    soundfile.write(folder / f"{name}.wav", stems[name].T, RATE, subtype="FLOAT")
    for name, samples in classes.items():
        soundfile.write(folder / f"{name}.wav", samples.T, RATE, subtype="FLOAT")
    soundfile.write(folder / "mixture.wav", np.sum(list(classes.values()), axis=0).T, RATE, subtype="FLOAT")
    parts = [{"name": name, **({"stem": name} if split_guitars else {})} for name in stems if name.startswith("guitar")]
    (folder / "metadata.json").write_text(json.dumps({"stems": {"guitar": {"parts": parts}}}))


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    """train/: three songs with every stem (one without a lead guitar, one without piano);
    valid/: one song."""
    root = tmp_path_factory.mktemp("second-stage")
    t = np.arange(int(SECONDS * RATE)) / RATE
    for split, count in (("train", 3), ("valid", 1)):
        for number in range(count):
            stems = {}
            for name, pitch in PITCH.items():
                if (name == "guitar-lead" and number == 1) or (name == "piano" and number == 2):
                    continue
                tone = 0.1 * np.sin(2 * np.pi * pitch * (1 + 0.005 * number) * t)
                stems[name] = np.stack([tone, 0.7 * tone]).astype(np.float32)
            write_song(root / split / f"song {number}", stems)
    return root


def test_each_stage_and_target_has_its_own_stems():
    assert stem_set("guitar") == CLASSES
    assert stem_set("guitar", "other") == ("guitar", "piano", "other")
    assert stem_set("other", "other") == ("guitar", "piano", "other")
    assert stem_set("guitar-lead", "other") == ("guitar-lead", "guitar-rhythm", "piano", "other")
    assert stem_set("guitar-lead") == ("vocals", "drums", "bass", "guitar-lead", "guitar-rhythm", "piano", "other")
    with pytest.raises(StemdeskError, match="holds no drums"):
        stem_set("drums", "other")
    with pytest.raises(StemdeskError, match="Unknown stage"):
        stem_set("guitar", "vocals")
    with pytest.raises(StemdeskError, match="Unknown target"):
        stem_set("banjo")


def test_other_stage_inputs_hold_only_what_demucs_other_holds(songs):
    dataset = ChunkDataset(songs, "train", "guitar", chunk_samples=8192, seed=3, stage="other")
    mixes = set()
    for index in range(30):
        chunk = dataset.mix(index)
        np.testing.assert_allclose(chunk.mixture, chunk.target + chunk.rest, atol=1e-6)
        assert all(share_near(chunk.mixture, PITCH[name]) < 1e-3 for name in ("vocals", "drums", "bass"))
        assert share_near(chunk.rest, PITCH["guitar-lead"]) < 1e-3 and share_near(chunk.rest, PITCH["guitar-rhythm"]) < 1e-3
        mixes.add(tuple(name for name in ("piano", "other") if share_near(chunk.rest, PITCH[name]) > 0.01))
    assert mixes == {(), ("piano",), ("other",), ("piano", "other")}


def test_the_lead_guitar_is_a_target_and_the_rhythm_guitar_part_of_the_rest(songs):
    dataset = ChunkDataset(songs, "train", "guitar-lead", chunk_samples=8192, seed=1, stage="other")
    # The song without a lead supplies no target, but its guitar.wav is rhythm guitar for the rest.
    assert [t.name for t in dataset.target_tracks] == ["song 0", "song 2"]
    assert dataset.tracks[1].stems["guitar-rhythm"].name == "guitar.wav"
    rhythm_in_rest = 0
    for index in range(20):
        chunk = dataset.mix(index)
        assert share_near(chunk.target, PITCH["guitar-lead"]) > 0.9
        assert share_near(chunk.rest, PITCH["guitar-lead"]) < 1e-3
        rhythm_in_rest += share_near(chunk.rest, PITCH["guitar-rhythm"]) > 0.01
    assert rhythm_in_rest >= 8


def test_an_old_render_without_split_guitars_is_refused_for_a_lead_target(songs, tmp_path):
    t = np.arange(RATE) / RATE
    tone = np.stack([np.sin(2 * np.pi * 660 * t)] * 2).astype(np.float32) * 0.1
    write_song(tmp_path / "train" / "old", {"guitar-rhythm": tone, "piano": tone}, split_guitars=False)
    with pytest.raises(StemdeskError, match="render it again"):
        ChunkDataset(tmp_path, "train", "guitar-lead", chunk_samples=4096, stage="other")
    # For a whole-guitar target it is as good as ever.
    assert ChunkDataset(tmp_path, "train", "guitar", chunk_samples=4096, stage="other").target_tracks


@pytest.fixture(scope="module")
def cached(songs) -> str:
    """Every song's first stage cached: the shipped drums model's "rest" (a real ONNX
    model that takes the drums out, as Demucs' first stage takes out drums, bass, vocals)."""
    stage = separator_stage("drums-unet", "rest", device="cpu")
    name = cache_name("drums-unet", "rest")
    for split in ("train", "valid"):
        written, skipped = cache_split(songs / split, name, stage)
        assert skipped == 0 and written == len(list((songs / split).iterdir()))
    return name


def test_the_first_stage_is_computed_once_per_song(songs, cached):
    assert cached == "drums-unet.rest"
    output = decode(songs / "train" / "song 0" / f"{cached}.wav")
    mixture = decode(songs / "train" / "song 0" / "mixture.wav")
    # What the cache holds is the first stage's output on the song's mix, stored exactly.
    expected = separator_stage("drums-unet", "rest", device="cpu")(mixture).samples
    np.testing.assert_array_equal(output.samples, expected)
    assert not np.allclose(output.samples, mixture.samples, atol=1e-3)
    before = (songs / "train" / "song 0" / f"{cached}.wav").stat().st_mtime_ns

    def refuse(audio: Audio) -> Audio:
        raise AssertionError("a cached song was separated again")

    assert cache_split(songs / "train", cached, refuse) == (0, 3)
    assert (songs / "train" / "song 0" / f"{cached}.wav").stat().st_mtime_ns == before


def test_a_first_stage_that_changes_the_shape_or_is_late_writes_nothing(songs, tmp_path):
    with pytest.raises(StemdeskError, match="returned"):
        cache_split(songs / "train", "halved", lambda audio: Audio(audio.samples[:, ::2], audio.rate))
    assert not list(songs.glob("*/*/halved.wav"))
    assert cache_split(songs / "train", "late", lambda audio: audio, deadline=0.0) == (0, 0)
    with pytest.raises(StemdeskError, match="no stem 'guitar'"):
        separator_stage("drums-unet", "guitar", device="cpu")


def test_chunks_draw_on_the_first_stage_as_often_as_asked(songs, cached):
    mixing = MixingOptions(first_stage_probability=0.5, gain_db=(-6.0, 0.0), swap_channels_probability=0.0)
    dataset = ChunkDataset(songs, "train", "guitar", chunk_samples=8192, seed=2, stage="other", first_stage=cached,
                           mixing=mixing)
    from_first_stage = 0
    for index in range(40):
        chunk = dataset.mix(index)
        np.testing.assert_allclose(chunk.mixture, chunk.target + chunk.rest, atol=1e-6)
        if share_near(chunk.mixture, PITCH["drums"]) > 1e-4:
            # Only the first stage's output holds what it left of the drums and the bass.
            from_first_stage += 1
            assert share_near(chunk.mixture, PITCH["bass"]) > 1e-3
    assert 10 <= from_first_stage <= 30
    with pytest.raises(StemdeskError, match="cached first stage"):
        ChunkDataset(songs, "train", "guitar", chunk_samples=8192, stage="other", first_stage="htdemucs.other",
                     mixing=mixing)


def with_bleed(audio: Audio) -> Audio:
    """A first stage whose output is the song plus noise: no two excerpts of it look alike."""
    noise = np.random.default_rng(audio.samples.shape[1]).standard_normal(audio.samples.shape).astype(np.float32)
    return Audio(audio.samples + 0.01 * noise, audio.rate)


def test_a_first_stage_chunk_is_the_cached_output_at_the_targets_time_and_gain(songs):
    cache_split(songs / "train", "bleed", with_bleed)
    mixing = MixingOptions(first_stage_probability=1.0, swap_channels_probability=0.0)
    dataset = ChunkDataset(songs, "train", "guitar", chunk_samples=8192, seed=5, stage="other", first_stage="bleed",
                           mixing=mixing)
    chunk = dataset.mix(0)
    for track in dataset.target_tracks:
        output = decode(track.first_stage).samples
        guitar = decode(track.stems["guitar"]).samples
        # Where in the song the chunk's input matches best (correlation by FFT).
        size = output.shape[1] + 8192
        correlation = np.fft.irfft(np.fft.rfft(output[0], size) * np.conj(np.fft.rfft(chunk.mixture[0], size)), size)
        for offset in np.argsort(correlation[: output.shape[1] - 8192 + 1])[-3:]:
            excerpt = output[:, offset : offset + 8192]
            gain = np.dot(chunk.mixture.ravel(), excerpt.ravel()) / np.dot(excerpt.ravel(), excerpt.ravel())
            if np.allclose(chunk.mixture, gain * excerpt, atol=1e-5):
                np.testing.assert_allclose(chunk.target, gain * guitar[:, offset : offset + 8192], atol=1e-5)
                return
    pytest.fail("the chunk is no excerpt of a cached first stage")


def test_a_second_stage_run_trains_and_its_card_says_what_it_works_on(songs, cached, tmp_path, capsys):
    run = ["--data", str(songs), "--out", str(tmp_path), "--steps", "2", "--export-dtype", "float32",
           "--target", "guitar-lead", "--stage", "other", "--first-stage", cached,
           "--mixing", '{"first_stage_probability": 0.5}',
           "--arch", "unet", "--model-config", '{"bins": 32, "filters": [4, 8]}', "--n-fft", "256",
           "--hop-length", "64", "--chunk-frames", "16", "--segment-frames", "32", "--batch", "2",
           "--valid-chunks", "2", "--valid-every", "2", "--checkpoint-every", "2", "--workers", "0", "--no-progress"]
    assert main(run) == 0
    card = ModelCard.load(tmp_path / "guitar-lead-in-other-unet.json")
    assert card.stems == ("guitar-lead", "rest")
    assert "what Demucs' \"other\" holds" in card.source and f"50% of the chunks {cached}" in card.source
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["stage"] == "other" and config["first_stage"] == cached
    # A first-stage share without a first stage to draw on is refused before any work.
    with pytest.raises(StemdeskError, match="needs --first-stage"):
        TrainingConfig(target="guitar", arch="unet", model={}, stage="other", mixing={"first_stage_probability": 0.5})
