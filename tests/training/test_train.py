"""Chunk dataset, training loop, checkpoint/resume, loss curve and the export at the end."""

import contextlib
import csv
import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytest.importorskip("matplotlib")

from stemdesk import dsp
from stemdesk.errors import StemdeskError
from stemdesk.models import ModelCard
from stemdesk.training.architectures import ARCHITECTURES, architecture, load_pretrained
from stemdesk.training.chunk_dataset import (
    ChunkDataset,
    MagnitudeSpectrogram,
    MixingOptions,
    chunk_samples_for,
)
from stemdesk.training.export_trained import read_checkpoint
from stemdesk.training.train import (
    RunOptions,
    Trainer,
    TrainingConfig,
    batch_loss,
    main,
    train,
    training_step,
)

RATE = 44100
SECONDS = 1.5
#: Each class a sine of its own pitch, so a chunk's content tells where it came from.
PITCH = {"guitar": 1000.0, "bass": 110.0, "piano": 440.0, "drums": 3000.0}
#: Where the guitar plays, as fractions of each track; silent elsewhere.
GUITAR_PLAYS = (0.4, 0.75)

TINY_RUN = [
    "--target", "guitar", "--arch", "unet", "--model-config", '{"bins": 32, "filters": [4, 8]}',
    "--n-fft", "256", "--hop-length", "64", "--chunk-frames", "16", "--segment-frames", "32",
    "--batch", "2", "--valid-chunks", "2", "--valid-every", "2", "--checkpoint-every", "2",
    "--lr", "0.01", "--workers", "0", "--no-progress",
]


def write_track(folder: Path, stems: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for name, samples in stems.items():
        soundfile.write(folder / f"{name}.wav", samples.T, RATE, subtype="FLOAT")
    soundfile.write(folder / "mixture.wav", sum(stems.values()).T, RATE, subtype="FLOAT")


@pytest.fixture(scope="module")
def multitracks(tmp_path_factory) -> Path:
    """A MUSDB-layout root: train/ with 3 songs, valid/ with 1; stereo sines per class,
    the guitar silent outside GUITAR_PLAYS; one training song has no piano."""
    root = tmp_path_factory.mktemp("multitracks")
    time_axis = np.arange(int(SECONDS * RATE)) / RATE
    playing = (time_axis >= GUITAR_PLAYS[0] * SECONDS) & (time_axis < GUITAR_PLAYS[1] * SECONDS)
    for split, count in (("train", 3), ("valid", 1)):
        for number in range(count):
            stems = {}
            for name, pitch in PITCH.items():
                if name == "piano" and number == 1:
                    continue
                tone = 0.2 * np.sin(2 * np.pi * pitch * (1 + 0.01 * number) * time_axis)
                if name == "guitar":
                    tone = tone * playing
                stems[name] = np.stack([tone, 0.8 * tone]).astype(np.float32)
            write_track(root / split / f"song {number}", stems)
    return root


def level_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(samples, dtype=np.float64)) + 1e-20)


def share_near(samples: np.ndarray, pitch: float) -> float:
    """Fraction of the energy of ``samples`` within 5 % of ``pitch``."""
    power = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[-1]), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(samples.shape[-1], 1 / RATE)
    near = np.abs(freqs - pitch) < 0.05 * pitch
    return float(power[..., near].sum() / max(power.sum(), 1e-30))


def test_chunks_are_target_plus_a_sub_mix_of_the_other_stems(multitracks):
    dataset = ChunkDataset(multitracks, "train", "guitar", chunk_samples=8192, seed=4)
    assert len(dataset.tracks) == 3
    kinds = set()
    for index in range(24):
        chunk = dataset.mix(index)
        assert chunk.mixture.shape == chunk.target.shape == chunk.rest.shape == (2, 8192)
        np.testing.assert_allclose(chunk.mixture, chunk.target + chunk.rest, atol=1e-6)
        # The target holds the guitar and nothing else; the rest everything but the guitar.
        assert all(share_near(chunk.target, PITCH[name]) < 0.01 for name in ("bass", "piano", "drums"))
        assert share_near(chunk.rest, PITCH["guitar"]) < 0.01
        kinds.add(tuple(name for name in ("bass", "piano", "drums") if share_near(chunk.rest, PITCH[name]) > 0.01))
    # Random sub-mixes: many combinations of the other stems, not always all of them.
    assert len(kinds) >= 5


def test_chunks_are_a_function_of_seed_and_index(multitracks):
    dataset = ChunkDataset(multitracks, "train", "guitar", chunk_samples=4096, seed=4)
    again = ChunkDataset(multitracks, "train", "guitar", chunk_samples=4096, seed=4)
    other_seed = ChunkDataset(multitracks, "train", "guitar", chunk_samples=4096, seed=5)
    np.testing.assert_array_equal(dataset.mix(7).mixture, again.mix(7).mixture)
    assert not np.array_equal(dataset.mix(7).mixture, dataset.mix(8).mixture)
    assert not np.array_equal(dataset.mix(7).mixture, other_seed.mix(7).mixture)


def test_silence_skipping_keeps_the_target_audible(multitracks):
    mixing = MixingOptions(silence_db=-40.0)
    skipping = ChunkDataset(multitracks, "train", "guitar", chunk_samples=2048, seed=1, mixing=mixing)
    not_skipping = ChunkDataset(
        multitracks, "train", "guitar", chunk_samples=2048, seed=1, mixing=replace(mixing, skip_silence=False)
    )
    # The raw excerpt is checked before its random gain (down to -9 dB) and a peak
    # normalisation (a dB or two at most here) are applied.
    assert all(level_db(skipping.mix(i).target) > -40.0 - 9.0 - 2.0 for i in range(30))
    assert sum(level_db(not_skipping.mix(i).target) < -100 for i in range(30)) >= 10


def test_validation_mix_is_the_song_as_it_is(multitracks):
    dataset = ChunkDataset(multitracks, "valid", "guitar", chunk_samples=4096, seed=0, mixing=MixingOptions.song_as_is())
    chunk = dataset.mix(0)
    for name in ("bass", "piano", "drums"):
        assert share_near(chunk.rest, PITCH[name]) > 0.2


def test_missing_split_or_target_is_a_clear_error(multitracks):
    with pytest.raises(StemdeskError, match="No data split"):
        ChunkDataset(multitracks, "test", "guitar", chunk_samples=1024)
    with pytest.raises(StemdeskError, match="vocals.wav"):
        ChunkDataset(multitracks, "train", "vocals", chunk_samples=1024)


def test_magnitude_items_use_the_engines_stft(multitracks):
    spectrogram = MagnitudeSpectrogram(n_fft=256, hop_length=64, bins=40)
    samples = chunk_samples_for(16, 64)
    waves = ChunkDataset(multitracks, "train", "guitar", chunk_samples=samples, seed=2)
    magnitudes = ChunkDataset(multitracks, "train", "guitar", chunk_samples=samples, seed=2, spectrogram=spectrogram)
    mixture, target = magnitudes[3]
    assert mixture.shape == target.shape == (2, 16, 40)
    engine = np.abs(dsp.stft(waves[3][0].numpy(), 256, 64, dsp.hann_window(256)))[:, :40].transpose(0, 2, 1)
    np.testing.assert_allclose(mixture.numpy(), engine, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_training_steps_lower_the_loss_on_a_fixed_batch(arch, multitracks):
    model = {
        "unet": {"bins": 32, "filters": [4, 8], "dropout_stages": 0},
        "openunmix": {"bins": 32, "hidden": 16, "lstm_layers": 2, "dropout": 0.0},
        "hourglass": {"bins": 32, "features": 8, "stacks": 2, "depth": 2},
    }[arch]
    spectrogram = MagnitudeSpectrogram(n_fft=256, hop_length=64, bins=32)
    dataset = ChunkDataset(multitracks, "train", "guitar", chunk_samples_for(16, 64), seed=0, spectrogram=spectrogram)
    mixture, target = (torch.stack(items) for items in zip(*(dataset[i] for i in range(4))))
    torch.manual_seed(0)
    definition = architecture(arch)
    net = definition.build(definition.config(model))
    if definition.initialise_from_data is not None:
        definition.initialise_from_data(net, mixture)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = [training_step(definition, net, optimizer, mixture, target) for _ in range(8)]
    assert losses[-1] < 0.8 * losses[0], losses
    with torch.no_grad():
        assert batch_loss(definition, net.train(), mixture, target).item() < losses[0]


def read_curve(run_dir: Path) -> list[dict]:
    with open(run_dir / "loss.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def uninterrupted_run(multitracks, tmp_path_factory) -> Path:
    """Four steps in one go, exported in float32 at the end."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    assert main(["--data", str(multitracks), "--out", str(run_dir), "--steps", "4", "--export-dtype", "float32", *TINY_RUN]) == 0
    return run_dir


def test_resumed_run_continues_exactly_like_an_uninterrupted_one(multitracks, uninterrupted_run, tmp_path):
    run_dir = tmp_path / "interrupted"
    common = ["--data", str(multitracks), "--out", str(run_dir), "--no-export"]
    assert main([*common, "--steps", "2", *TINY_RUN]) == 0
    assert [row["step"] for row in read_curve(run_dir)] == ["1", "2"]
    assert main([*common, "--steps", "4", "--resume", *TINY_RUN]) == 0
    # Dropout is on in this U-Net: equality needs the RNG state from the checkpoint too.
    assert read_curve(run_dir) == read_curve(uninterrupted_run)


#: Paths whose opening for reading the audit hook below counts, and the counts.
_WATCHED_READS: dict[str, int] = {}


def _count_reads(event: str, args: tuple) -> None:
    # The interpreter's own audit event for every open(), io.open() and os.open():
    # what the process really asks of the file system, whatever library asks.
    if event != "open" or not _WATCHED_READS or isinstance(args[0], int):
        return
    path, mode, flags = args
    writing = any(c in mode for c in "wax+") if mode else flags & os.O_ACCMODE != os.O_RDONLY
    key = os.path.realpath(os.fsdecode(path))
    if key in _WATCHED_READS and not writing:
        _WATCHED_READS[key] += 1


sys.addaudithook(_count_reads)


@contextlib.contextmanager
def reads_of(path: Path):
    """Counts how often ``path`` is opened for reading inside the block: ``counter["reads"]``."""
    key = os.path.realpath(path)
    _WATCHED_READS[key] = 0
    counter = {}
    try:
        yield counter
    finally:
        counter["reads"] = _WATCHED_READS.pop(key)


def test_a_resumed_run_reads_its_checkpoint_once_and_goes_on_from_its_state(multitracks, uninterrupted_run, tmp_path):
    run_dir = tmp_path / "resumed"
    common = ["--data", str(multitracks), "--out", str(run_dir)]
    assert main([*common, "--steps", "2", "--no-export", *TINY_RUN]) == 0
    checkpoint = run_dir / "checkpoint.pt"
    with reads_of(checkpoint) as counter:
        torch.load(checkpoint, weights_only=True)
    assert counter["reads"] == 1, "the audit hook must see torch.load's open"
    # The whole resumed session, export included, reads the checkpoint file once.
    with reads_of(checkpoint) as counter:
        assert main([*common, "--steps", "4", "--resume", "--export-dtype", "float32"]) == 0
    assert counter["reads"] == 1
    assert (run_dir / "guitar-unet.onnx").is_file()
    # It went on from step 2 with the optimizer's moments: the same state as four steps in one go.
    resumed, whole = read_checkpoint(checkpoint), read_checkpoint(uninterrupted_run / "checkpoint.pt")
    assert resumed["step"] == whole["step"] == 4
    resumed_state, whole_state = resumed["optimizer"]["state"], whole["optimizer"]["state"]
    assert resumed_state.keys() == whole_state.keys()
    for index, moments in resumed_state.items():
        assert int(moments["step"]) == 4
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(moments[name], whole_state[index][name]), (index, name)


def test_a_trainer_resumed_from_a_checkpoint_holds_its_state(multitracks, tmp_path):
    config = TrainingConfig(
        target="guitar", arch="unet", model={"bins": 32, "filters": [4, 8]}, n_fft=256, hop_length=64,
        chunk_frames=16, segment_frames=32, batch=2, valid_chunks=2, valid_every=2, checkpoint_every=2, lr=0.01,
    )
    options = RunOptions(data=multitracks, run_dir=tmp_path, steps=3, export_dtype=None, progress=False)
    first = Trainer.start(config, options)
    batch = [torch.stack(items) for items in zip(*(first.train_data[i] for i in range(2)))]
    losses = [first.step(*batch) for _ in range(3)]
    assert first.step_count == 3 and first.history.train_loss == losses
    saved = first.save()
    again = Trainer.resume(read_checkpoint(tmp_path / "checkpoint.pt"), replace(options, steps=5))
    assert again.step_count == 3 and again.config.to_json() == config.to_json() and again.history.train_loss == losses
    assert again.session["first_step"] == 3 and len(again.sessions) == 2
    for index, moments in again.optimizer.state_dict()["state"].items():
        assert torch.equal(moments["exp_avg"], saved["optimizer"]["state"][index]["exp_avg"])
    # The next step is the one the first trainer would have taken: the same weights,
    # moments and dropout draws (the RNG, one per process, is back where it was saved).
    saved_rng = torch.get_rng_state()
    assert torch.equal(saved_rng, saved["rng"]["torch"])
    resumed_loss = again.step(*batch)
    torch.set_rng_state(saved_rng)
    assert resumed_loss == first.step(*batch)


def test_run_writes_its_curve_and_exports_a_model_the_engine_accepts(uninterrupted_run):
    rows = read_curve(uninterrupted_run)
    assert [row["step"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[1]["valid_loss"] and rows[3]["valid_loss"] and not rows[0]["valid_loss"]
    assert (uninterrupted_run / "loss.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads((uninterrupted_run / "config.json").read_text())["arch"] == "unet"
    card = ModelCard.load(uninterrupted_run / "guitar-unet.json")
    card.verify()
    assert card.stems == ("guitar", "rest") and card.mask_power == 1.0
    # Exported from the lowest validation loss of the run (validated at steps 2 and 4).
    best = read_checkpoint(uninterrupted_run / "best.pt")
    lowest = min(zip(best["history"]["valid_loss"], best["history"]["valid_step"]))
    assert best["step"] == lowest[1] in (2, 4)
    assert f"{best['step']} steps" in card.source and "3 tracks of" in card.source and "CPU" in card.source


def test_best_checkpoint_holds_the_weights_of_the_lowest_validation_loss(multitracks, tmp_path):
    config = TrainingConfig(
        target="guitar", arch="unet", model={"bins": 32, "filters": [4, 8]}, n_fft=256, hop_length=64,
        chunk_frames=16, segment_frames=32, batch=2, valid_chunks=2, valid_every=2, checkpoint_every=2, lr=0.01,
    )
    trainer = Trainer.start(config, RunOptions(data=multitracks, run_dir=tmp_path, steps=3, export_dtype=None, progress=False))
    batch = [torch.stack(items) for items in zip(*(trainer.train_data[i] for i in range(2)))]
    trainer.step(*batch)
    good = trainer.validate()
    good_weights = {name: tensor.clone() for name, tensor in trainer.net.state_dict().items()}
    assert read_checkpoint(tmp_path / "best.pt")["step"] == 1
    # Weights spoilt by noise validate worse: best.pt keeps the step-1 weights.
    trainer.step(*batch)
    with torch.no_grad():
        for parameter in trainer.net.parameters():
            parameter.add_(torch.randn_like(parameter))
    assert trainer.validate() > good
    best = read_checkpoint(tmp_path / "best.pt")
    assert best["step"] == 1 and best["history"]["valid_loss"] == [good]
    for name, tensor in good_weights.items():
        assert torch.equal(best["model"][name], tensor), name
    # Back to the good weights: a loss only as low as the best is not a new best.
    trainer.net.load_state_dict(good_weights)
    assert trainer.validate() == good
    assert read_checkpoint(tmp_path / "best.pt")["step"] == 1


def test_same_seed_same_curve_and_another_seed_another(multitracks, uninterrupted_run, tmp_path):
    config = TrainingConfig(
        target="guitar", arch="unet", model={"bins": 32, "filters": [4, 8]}, n_fft=256, hop_length=64,
        chunk_frames=16, segment_frames=32, batch=2, valid_chunks=2, valid_every=2, checkpoint_every=2, lr=0.01,
    )
    options = RunOptions(data=multitracks, run_dir=tmp_path / "same", steps=2, export_dtype=None, progress=False)
    same = train(config, options)
    assert same.history.train_loss == [float(row["train_loss"]) for row in read_curve(uninterrupted_run)[:2]]
    other = train(replace(config, seed=1), replace(options, run_dir=tmp_path / "other"))
    assert other.history.train_loss != same.history.train_loss


def test_time_budget_stops_cleanly_with_a_checkpoint(multitracks, tmp_path):
    config = TrainingConfig(
        target="guitar", arch="hourglass", model={"bins": 32, "features": 4, "stacks": 2, "depth": 1},
        n_fft=256, hop_length=64, chunk_frames=16, segment_frames=32, batch=2, valid_chunks=2,
    )
    options = RunOptions(data=multitracks, run_dir=tmp_path, steps=1000, minutes=0.0, export_dtype=None, progress=False)
    outcome = train(config, options)
    assert outcome.step == 1 and outcome.stopped_early
    assert outcome.history.valid_step == [1]
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "loss.png").is_file()


def test_resuming_with_other_settings_or_reusing_a_run_folder_is_refused(multitracks, uninterrupted_run, capsys):
    common = ["--data", str(multitracks), "--out", str(uninterrupted_run), "--steps", "5", "--no-export"]
    assert main([*common, "--resume", "--arch", "hourglass"]) == 1
    assert "other arch" in capsys.readouterr().err
    assert main([*common, *TINY_RUN]) == 1
    assert "--resume" in capsys.readouterr().err


def test_a_run_starts_from_an_exported_models_weights(multitracks, uninterrupted_run, tmp_path, capsys):
    # A copy, deleted before the resume below: resuming never reads the initial weights again.
    shutil.copytree(uninterrupted_run, tmp_path / "installed", ignore=shutil.ignore_patterns("*.pt"))
    exported = tmp_path / "installed" / "guitar-unet.json"
    trained = read_checkpoint(uninterrupted_run / "checkpoint.pt")
    config = json.loads(trained["config"])
    net = architecture("unet").build(config["model"])
    load_pretrained(net, "unet", config["model"], str(exported))
    for key, value in net.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, trained["model"][key]), key
    # From the command line, and refused with a reason for a network of other sizes.
    common = ["--data", str(multitracks), "--steps", "1", "--no-export", "--init", str(exported)]
    assert main([*common, "--out", str(tmp_path / "fine-tuned"), *TINY_RUN]) == 0
    assert json.loads((tmp_path / "fine-tuned" / "config.json").read_text())["init"] == str(exported)
    other_sizes = [*TINY_RUN[: TINY_RUN.index("--model-config") + 1], '{"bins": 32, "filters": [4, 8, 16]}',
                   *TINY_RUN[TINY_RUN.index("--model-config") + 2 :]]
    assert main([*common, "--out", str(tmp_path / "other"), *other_sizes]) == 1
    assert "cannot initialise this network" in capsys.readouterr().err
    # The card of the fine-tuned model tells the story of the model it started from.
    shutil.rmtree(tmp_path / "installed")
    assert main(["--data", str(multitracks), "--steps", "2", "--export-dtype", "float32",
                 "--out", str(tmp_path / "fine-tuned"), "--resume"]) == 0
    source = ModelCard.load(tmp_path / "fine-tuned" / "guitar-unet.json").source
    assert source.startswith("stemdesk U-Net for guitar, fine-tuned from guitar-unet 1.0.0, by ")
    assert "2 steps" in source and source.index("2 steps") < source.index(" guitar-unet 1.0.0 was: ")
    assert "4 steps" in source.partition(" guitar-unet 1.0.0 was: ")[2]


def test_an_unknown_initialisation_is_a_clear_error(multitracks, tmp_path, capsys):
    assert main(["--data", str(multitracks), "--out", str(tmp_path), "--steps", "1", "--no-export",
                 "--init", "no-such-model", *TINY_RUN]) == 1
    assert "Unknown initialisation 'no-such-model'" in capsys.readouterr().err
    assert not (tmp_path / "checkpoint.pt").exists()


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (print, ("a checkpoint should never run code",))


def test_checkpoints_are_read_without_unpickling_code(tmp_path):
    torch.save({"model": _RunsCodeWhenUnpickled()}, tmp_path / "checkpoint.pt")
    with pytest.raises(StemdeskError, match="Refusing"):
        read_checkpoint(tmp_path / "checkpoint.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "checkpoint.pt").read_bytes()[:100])
    with pytest.raises(StemdeskError, match="damaged"):
        read_checkpoint(tmp_path / "truncated.pt")
