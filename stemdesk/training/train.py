"""Train one target-stem network on random chunks of a MUSDB-layout folder, then export it.

    python -m stemdesk.training.train --data DIR --target guitar --arch unet \\
        [--init spleeter-accompaniment] --out RUN_DIR --steps 20000 [--minutes 9] [--resume]

A second stage (a model for the guitar inside Demucs' "other") trains on ``--stage other``
inputs: sub-mixes of the stems "other" holds, and, for a share of the chunks, the first
stage's own "other" cached by ``python -m stemdesk.training.first_stage``
(``--first-stage htdemucs.other --mixing '{"first_stage_probability": 0.5}'``).

What a run keeps in RUN_DIR:

* ``config.json``: the run's settings (also inside the checkpoint, which --resume reads);
* ``checkpoint.pt``: network, optimizer, step, RNG states, loss history, config and
  where each session trained; written every ``--checkpoint-every`` steps and at exit,
  atomically;
* ``best.pt``: the checkpoint as it was at the lowest validation loss so far (early
  stopping: past a point more steps fit the training timbres and lose on new ones);
* ``loss.csv`` and ``loss.png``: training loss per step, validation loss on held-out
  songs every ``--valid-every`` steps;
* ``<target>-<arch>.onnx`` and ``.json``: the model exported from ``best.pt`` and its card,
  once the run reaches ``--steps`` (``python -m stemdesk.training.export_trained`` exports
  any checkpoint).

Step ``k`` trains on chunks ``k * batch`` to ``(k + 1) * batch - 1`` of the training
set, each a pure function of the seed and its index, and the checkpoint carries the
torch RNG that drives dropout: a resumed run continues exactly where it stopped (bit
for bit on the CPU), and runs with the same seed and data give the same loss curve.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn
from tqdm import tqdm

from stemdesk.errors import StemdeskError
from stemdesk.training.architectures import (
    ARCHITECTURES,
    PRETRAINED,
    Architecture,
    architecture,
    check_init,
    describe_init,
    load_pretrained,
)
from stemdesk.training.chunk_dataset import (
    STAGES,
    TARGETS,
    ChunkDataset,
    MagnitudeSpectrogram,
    MixingOptions,
    chunk_samples_for,
    stem_set,
)
from stemdesk.training.export_trained import export_trained, read_checkpoint
from stemdesk.training.objectives import OBJECTIVES, check_objective, training_pair
from stemdesk.training.onnx_export import write_atomically

CHECKPOINT = "checkpoint.pt"
BEST_CHECKPOINT = "best.pt"
PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


@dataclass
class TrainingConfig:
    """What defines a run: the same config, data and seed give the same network.

    ``model`` is the architecture's config (see ``architectures.Architecture.config``);
    ``stage`` which stems make an input (``chunk_dataset.STAGES``: the whole song, or
    Demucs' "other") and ``first_stage`` the cached first-stage output drawn for some
    chunks (e.g. "htdemucs.other"); ``mixing`` holds the fields of
    ``chunk_dataset.MixingOptions``; ``segment_frames``
    (the exported model's chunk) and ``precision`` (autocast on CUDA, bf16 also on CPUs
    with native bf16) default to the
    architecture's, ``lr`` to 1e-4 when starting from pretrained weights and 1e-3
    otherwise. The STFT is
    Spleeter's (4096-point, hop 1024 at 44.1 kHz): its 10.8 Hz bins resolve a bass
    line's fundamentals, and Spleeter's U-Nets, which ``init`` starts from, know no other.
    """

    target: str
    arch: str
    model: dict
    init: str | None = None
    seed: int = 0
    batch: int = 16
    lr: float | None = None
    chunk_frames: int = 256
    segment_frames: int | None = None
    sample_rate: int = 44100
    n_fft: int = 4096
    hop_length: int = 1024
    train_split: str = "train"
    valid_split: str = "valid"
    valid_every: int = 500
    valid_chunks: int = 64
    checkpoint_every: int = 500
    stats_chunks: int = 64
    precision: str | None = None
    mixing: dict = field(default_factory=lambda: asdict(MixingOptions()))
    stage: str = "mix"
    first_stage: str | None = None
    objective: str = "magnitude"

    def __post_init__(self) -> None:
        stem_set(self.target, self.stage)
        check_objective(self.objective)
        arch = architecture(self.arch)
        self.model = arch.config(self.model)
        if self.segment_frames is None:
            self.segment_frames = arch.segment_frames
        multiple = arch.frame_multiple(self.model)
        if self.chunk_frames % multiple or self.segment_frames % multiple:
            raise StemdeskError(f"{self.arch} needs chunk and segment frames that are multiples of {multiple}")
        if self.lr is None:
            # Fine-tuning pretrained weights wants smaller steps than learning from scratch.
            self.lr = 1e-4 if self.init is not None else 1e-3
        if self.precision is None:
            self.precision = arch.cuda_precision
        if self.precision not in PRECISIONS:
            raise StemdeskError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.model["bins"] > self.n_fft // 2 + 1:
            raise StemdeskError(f"bins {self.model['bins']} exceed the {self.n_fft // 2 + 1} of a {self.n_fft}-point STFT")
        try:
            mixing = MixingOptions(**self.mixing)
        except TypeError as error:
            raise StemdeskError(f"bad mixing options: {error}") from None
        if mixing.first_stage_probability > 0 and not self.first_stage:
            raise StemdeskError("first_stage_probability needs --first-stage: the cached output to draw on")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainingConfig":
        return cls(**json.loads(text))


@dataclass
class RunOptions:
    """How this session runs, which may change from one resumed session to the next."""

    data: Path
    run_dir: Path
    steps: int
    device: str = "cpu"
    minutes: float | None = None
    workers: int = 0
    resume: bool = False
    export_dtype: str | None = "float16"
    progress: bool = True


@dataclass
class LossHistory:
    """Training loss of every step and validation loss at some steps."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    valid_step: list[int] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)

    def write_csv(self, path: Path) -> None:
        """Columns step, train_loss, valid_loss (empty where not validated)."""
        valid = dict(zip(self.valid_step, self.valid_loss))
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", "train_loss", "valid_loss"])
        for step, loss in zip(self.step, self.train_loss):
            writer.writerow([step, repr(loss), repr(valid[step]) if step in valid else ""])
        write_atomically(path, text.getvalue().encode())

    def plot(self, path: Path, title: str) -> None:
        """A PNG of both curves on a log scale, the noisy training loss smoothed."""
        # The object API on an Agg canvas: no pyplot global state, no display needed.
        figure = Figure(figsize=(8, 4.5), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if self.step:
            axes.plot(self.step, self.train_loss, color="tab:blue", alpha=0.25, linewidth=0.8)
            window = max(1, len(self.step) // 50)
            smoothed = np.convolve(self.train_loss, np.full(window, 1.0 / window), mode="valid")
            axes.plot(self.step[window - 1 :], smoothed, color="tab:blue", label=f"training (mean of {window} steps)")
        if self.valid_step:
            axes.plot(self.valid_step, self.valid_loss, "o-", color="tab:orange", label="validation (held-out songs)")
        axes.set_yscale("log")
        axes.set_xlabel("step")
        axes.set_ylabel("L1 on magnitudes")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        if self.step or self.valid_step:
            axes.legend()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        write_atomically(path, buffer.getvalue())


@dataclass
class TrainingOutcome:
    """Where a session ended: the step reached, why it stopped, what it exported."""

    step: int
    steps_this_session: int
    seconds: float
    history: LossHistory
    stopped_early: bool
    exported: tuple[Path, Path] | None


def batch_loss(arch: Architecture, net: nn.Module, mixture: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the target's magnitudes and every supervised estimate, averaged.

    ``mixture`` and ``target``: float32 ``(batch, channels, frames, bins)`` magnitudes
    with exactly the network's bins. Returns a float32 scalar.
    """
    estimates = arch.target_estimates(net, mixture)
    return torch.stack([(estimate.float() - target).abs().mean() for estimate in estimates]).mean()


def training_step(
    arch: Architecture,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    mixture: torch.Tensor,
    target: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One Adam step on a batch of magnitudes (see :func:`batch_loss`); the loss before it.

    ``precision`` "bf16" or "fp16" runs the forward pass under autocast on CUDA, and
    "bf16" also on CPUs with native bf16 (see :func:`cpu_runs_bf16`); the loss stays
    float32. ``scaler`` must be enabled for fp16, whose gradients would otherwise underflow.
    """
    net.train()
    with _autocast(mixture.device, precision):
        loss = batch_loss(arch, net, mixture, target)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.item()


def validation_loss(
    arch: Architecture, net: nn.Module, loader: torch.utils.data.DataLoader, spectrogram: MagnitudeSpectrogram,
    precision: str = "fp32", objective: str = "magnitude",
) -> float:
    """Mean L1 of the final estimate over every chunk of ``loader``, in eval mode, against
    the ``objective``'s target (:mod:`stemdesk.training.objectives`)."""
    net.eval()
    total, count = 0.0, 0
    device = spectrogram.window.device
    with torch.no_grad():
        for mixture, target in loader:
            mixture, target = training_pair(spectrogram, mixture.to(device), target.to(device), objective)
            with _autocast(mixture.device, precision):
                estimate = arch.target_estimates(net, mixture)[-1]
            total += (estimate.float() - target).abs().mean().item() * mixture.shape[0]
            count += mixture.shape[0]
    net.train()
    return total / count


def _autocast(device: torch.device, precision: str):
    dtype = PRECISIONS[precision]
    if dtype is None or (device.type == "cpu" and not cpu_runs_bf16(dtype)):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def cpu_runs_bf16(dtype: torch.dtype | None) -> bool:
    """Whether autocast to ``dtype`` pays on this CPU: bf16 on CPUs with native bf16.

    oneDNN runs bf16 convolutions on AVX512-BF16 / AMX (measured 2x faster per U-Net
    step than float32 on a 2-core Sapphire Rapids); elsewhere it emulates them, slower
    than float32, and CPU fp16 autocast is slower still, so both stay float32 there.
    """
    return dtype is torch.bfloat16 and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


class _StopRequests:
    """Turns SIGTERM and SIGINT into a flag checked between steps, so that a killed
    job (a time-limited GPU command, Ctrl-C) still writes its checkpoint."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous = {}

    def __enter__(self) -> Self:
        # Handlers can only be installed from the main thread; elsewhere signals keep their default.
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._receive)
        return self

    def _receive(self, number: int, frame) -> None:
        self.received = number

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _leave_stop_signals_to_the_trainer(worker_id: int) -> None:
    # A signal sent to the whole process group would otherwise kill the loader's
    # workers mid-batch, and the trainer could not finish its step and checkpoint.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_IGN)


def _loader(dataset: ChunkDataset, indices: range, batch: int, workers: int, pin: bool) -> torch.utils.data.DataLoader:
    # Its own generator: otherwise each new iterator would draw a seed from the global
    # RNG that drives dropout, and a resumed run would diverge from an uninterrupted one.
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch, sampler=indices, num_workers=workers, pin_memory=pin,
        generator=torch.Generator(), worker_init_fn=_leave_stop_signals_to_the_trainer,
    )


def _rng_states(device: torch.device) -> dict:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _restore_rng_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


class Trainer:
    """One session of a run: the network, its optimizer and its history, and the loop.

    Build it with :meth:`start` (a new run from ``config``) or :meth:`resume` (a run
    folder's checkpoint, read once by the caller); then :meth:`run` trains until
    ``options.steps`` steps or ``options.minutes`` have passed, writes the checkpoint and
    loss curve and, once the run has all its steps (and unless ``options.export_dtype``
    is None), the exported model. Every piece of a run's state lives in one attribute,
    written by :meth:`step` and read by :meth:`save` and :meth:`validate`.
    """

    def __init__(self, config: TrainingConfig, options: RunOptions, saved: dict | None) -> None:
        self.started = time.monotonic()
        self.config, self.options = config, options
        self.run_dir = Path(options.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = _training_device(options.device)
        self.arch = architecture(config.arch)
        self.spectrogram = MagnitudeSpectrogram(config.n_fft, config.hop_length, config.model["bins"]).to(self.device)
        self.train_data, self.valid_data = _datasets(config, options.data)
        torch.manual_seed(config.seed)
        # Channels-last weights make every 2-D convolution run channels-last (4-D weights
        # only; other layers are unaffected): a U-Net step on this CPU in bf16 took 0.33-0.35 s
        # against 0.42-0.52 s with contiguous ones.
        self.net = self.arch.build(config.model).to(self.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        use_fp16_scaler = self.device.type == "cuda" and config.precision == "fp16"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_fp16_scaler)
        if saved is not None:
            self.net.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scaler.load_state_dict(saved["scaler"])
            self.step_count = saved["step"]
            self.history = LossHistory(**saved["history"])
            self.sessions = json.loads(saved["sessions"])
            self.init_provenance = saved.get("init_provenance", "")
        else:
            self.step_count, self.history, self.sessions = 0, LossHistory(), []
            self.init_provenance = describe_init(config.init) if config.init is not None else ""
            self._initialise_weights()
            write_atomically(self.run_dir / "config.json", (config.to_json() + "\n").encode())
        self.session = {
            "device": device_name(self.device), "first_step": self.step_count, "last_step": self.step_count,
            "seconds": 0.0, "data": Path(options.data).resolve().name,
            "train_tracks": len(self.train_data.tracks), "valid_tracks": len(self.valid_data.tracks),
        }
        self.sessions.append(self.session)
        if saved is not None:
            # Last: building the network above drew from the RNG that drives dropout.
            _restore_rng_states(saved["rng"], self.device)
        self.pin = self.device.type == "cuda"
        self.valid_loader = _loader(self.valid_data, range(config.valid_chunks), config.batch, options.workers, self.pin)
        self.title = f"{config.target} {self.arch.title}"

    @classmethod
    def start(cls, config: TrainingConfig, options: RunOptions) -> Self:
        """A new run of ``config`` in ``options.run_dir``."""
        if config.init is not None:
            # Checked when a run starts, not in TrainingConfig: a resumed run never reads its
            # initial weights again, so a model uninstalled since must not stop it.
            check_init(config.init)
        return cls(config, options, None)

    @classmethod
    def resume(cls, saved: dict, options: RunOptions) -> Self:
        """The run whose checkpoint (as :func:`read_checkpoint` returns it) is ``saved``."""
        return cls(TrainingConfig.from_json(saved["config"]), options, saved)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT

    @property
    def best_path(self) -> Path:
        return self.run_dir / BEST_CHECKPOINT

    def _initialise_weights(self) -> None:
        if self.config.init is not None:
            load_pretrained(self.net, self.config.arch, self.config.model, self.config.init)
        elif self.arch.initialise_from_data is not None:
            with torch.no_grad():
                mixtures = torch.stack([self.train_data[i][0] for i in range(self.config.stats_chunks)])
                self.arch.initialise_from_data(self.net, self.spectrogram(mixtures.to(self.device)))

    def step(self, mixture: torch.Tensor, target: torch.Tensor) -> float:
        """One optimizer step on a batch of waveforms ``(batch, channels, samples)``; its loss."""
        with torch.no_grad():
            mixture, target = training_pair(
                self.spectrogram, mixture.to(self.device, non_blocking=True),
                target.to(self.device, non_blocking=True), self.config.objective,
            )
        loss = training_step(self.arch, self.net, self.optimizer, mixture, target, self.config.precision, self.scaler)
        self.step_count += 1
        self.history.step.append(self.step_count)
        self.history.train_loss.append(loss)
        return loss

    def validate(self) -> float:
        """The validation loss now, recorded in the history; a new lowest one writes ``best.pt``."""
        loss = validation_loss(
            self.arch, self.net, self.valid_loader, self.spectrogram, self.config.precision, self.config.objective
        )
        lowest = min(self.history.valid_loss, default=float("inf"))
        self.history.valid_step.append(self.step_count)
        self.history.valid_loss.append(loss)
        if loss < lowest:
            _write_checkpoint(self.best_path, self.checkpoint())
        return loss

    def checkpoint(self) -> dict:
        """Everything a resumed session needs, as plain tensors and values."""
        self.session["last_step"] = self.step_count
        self.session["seconds"] = time.monotonic() - self.started
        return {
            "config": self.config.to_json(),
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step_count,
            "rng": _rng_states(self.device),
            "history": asdict(self.history),
            "sessions": json.dumps(self.sessions),
            "init_provenance": self.init_provenance,
        }

    def save(self) -> dict:
        """Write the checkpoint (atomically), loss.csv and loss.png; return the checkpoint."""
        checkpoint = self.checkpoint()
        _write_checkpoint(self.checkpoint_path, checkpoint)
        self.history.write_csv(self.run_dir / "loss.csv")
        self.history.plot(self.run_dir / "loss.png", self.title)
        return checkpoint

    def run(self) -> TrainingOutcome:
        """Train to ``options.steps`` or the time budget, a stop signal; save; maybe export."""
        config, options = self.config, self.options
        stopped_early = False
        indices = range(self.step_count * config.batch, options.steps * config.batch)
        train_loader = _loader(self.train_data, indices, config.batch, options.workers, self.pin)
        with _StopRequests() as stop, tqdm(
            total=options.steps, initial=self.step_count, disable=not options.progress, unit="step",
            dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0,
        ) as bar:
            for mixture, target in train_loader:
                loss = self.step(mixture, target)
                bar.update()
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                out_of_time = options.minutes is not None and time.monotonic() - self.started >= 60.0 * options.minutes
                stopping = out_of_time or stop.received is not None
                if self.step_count % config.valid_every == 0 or self.step_count == options.steps or stopping:
                    bar.write(f"step {self.step_count}: validation L1 {self.validate():.4f}")
                if self.step_count % config.checkpoint_every == 0 and not stopping:
                    self.save()
                if stopping:
                    stopped_early = self.step_count < options.steps
                    reason = "time budget spent" if out_of_time else f"signal {stop.received} received"
                    bar.write(f"stopping at step {self.step_count}: {reason}")
                    break
        checkpoint = self.save()
        exported = None
        # Only a finished run exports: the LSTM of Open-Unmix takes a minute or two to
        # export, time a session cut short by its budget would rather spend training.
        if options.export_dtype is not None and self.step_count >= options.steps and self.step_count > 0:
            best = read_checkpoint(self.best_path) if self.best_path.exists() else checkpoint
            exported = export_trained(best, self.run_dir, options.export_dtype)
        return TrainingOutcome(
            self.step_count, self.step_count - self.session["first_step"], time.monotonic() - self.started,
            self.history, stopped_early, exported,
        )


def _write_checkpoint(path: Path, checkpoint: dict) -> None:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomically(path, buffer.getvalue())


def _training_device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise StemdeskError("--device cuda asked for, but torch sees no CUDA GPU")
        # Fixed input sizes: let cuDNN time its convolution algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True
    return device


def _datasets(config: TrainingConfig, data: Path) -> tuple[ChunkDataset, ChunkDataset]:
    """The training set (mixed on the fly) and the validation set (songs as they are)."""
    chunk_samples = chunk_samples_for(config.chunk_frames, config.hop_length)
    common = dict(
        root=data, target=config.target, chunk_samples=chunk_samples, seed=config.seed,
        channels=config.model["channels"], sample_rate=config.sample_rate, stage=config.stage,
        first_stage=config.first_stage,
    )
    mixing = MixingOptions(**config.mixing)
    # Validated on inputs like the training ones: the first stage's output as often.
    valid_mixing = MixingOptions.song_as_is(mixing.first_stage_probability)
    return (
        ChunkDataset(split=config.train_split, mixing=mixing, **common),
        ChunkDataset(split=config.valid_split, mixing=valid_mixing, **common),
    )


def train(config: TrainingConfig, options: RunOptions) -> TrainingOutcome:
    """Run one session (see :class:`Trainer`): with ``options.resume`` and a checkpoint
    in the run folder, go on with that run (its own config; ``config`` is ignored)."""
    checkpoint_path = Path(options.run_dir) / CHECKPOINT
    if options.resume and checkpoint_path.exists():
        return Trainer.resume(read_checkpoint(checkpoint_path), options).run()
    return Trainer.start(config, options).run()


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    run = parser.add_argument_group("this session (may change when resuming)")
    run.add_argument("--data", type=Path, required=True, help="folder of <split>/<track>/<class>.wav")
    run.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, loss curve, exported model")
    run.add_argument("--steps", type=int, default=10_000, help="train until this many steps in total (default 10000)")
    run.add_argument("--minutes", type=float, default=None, help="stop cleanly after this many minutes of this session")
    run.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    run.add_argument("--workers", type=int, default=min(8, max(0, (os.cpu_count() or 1) - 1)), help="data loader processes")
    run.add_argument("--resume", action="store_true", help="go on from RUN_DIR/checkpoint.pt if there is one")
    run.add_argument("--no-export", action="store_true", help="do not write the .onnx and card at the end")
    run.add_argument("--export-dtype", choices=("float16", "float32"), default="float16")
    run.add_argument("--no-progress", action="store_true")
    # The run's identity: no argparse defaults, so that --resume can tell what was given.
    identity = parser.add_argument_group("the run (fixed once started; defaults in TrainingConfig)")
    identity.add_argument("--target", choices=TARGETS, default=argparse.SUPPRESS)
    identity.add_argument("--stage", choices=sorted(STAGES), default=argparse.SUPPRESS,
                          help="mix: inputs are whole songs (default); other: what Demucs' \"other\" holds")
    identity.add_argument("--first-stage", default=argparse.SUPPRESS,
                          help="cached first-stage output to draw inputs from, e.g. htdemucs.other "
                               "(see python -m stemdesk.training.first_stage)")
    identity.add_argument("--arch", choices=sorted(ARCHITECTURES), default=argparse.SUPPRESS)
    identity.add_argument("--objective", choices=OBJECTIVES, default=argparse.SUPPRESS,
                          help="what the estimate learns: the target's magnitude (default) or its part in "
                               "phase with the mixture (phase-sensitive: a higher ceiling for a mask)")
    identity.add_argument("--init", default=argparse.SUPPRESS,
                          help=f"weights to start from: {' or '.join(sorted(PRETRAINED))}, or an installed model's id "
                               "(e.g. guitar-unet: fine-tune it)")
    identity.add_argument("--model-config", dest="model", type=json.loads, default=argparse.SUPPRESS,
                          help='JSON overriding the architecture\'s sizes, e.g. \'{"bins": 512}\'')
    identity.add_argument("--mixing", type=json.loads, default=argparse.SUPPRESS,
                          help='JSON overriding chunk_dataset.MixingOptions, e.g. \'{"same_track_probability": 0.8}\'')
    for name, kind in (
        ("seed", int), ("batch", int), ("lr", float), ("chunk-frames", int), ("segment-frames", int),
        ("n-fft", int), ("hop-length", int), ("train-split", str), ("valid-split", str), ("valid-every", int),
        ("valid-chunks", int), ("checkpoint-every", int), ("stats-chunks", int),
    ):
        identity.add_argument(f"--{name}", type=kind, default=argparse.SUPPRESS)
    identity.add_argument(
        "--precision", choices=sorted(PRECISIONS), default=argparse.SUPPRESS,
        help="autocast dtype on CUDA, and bf16 also on CPUs with native bf16 (default: bf16, fp16 for openunmix)",
    )
    return parser


def _config_from(given: dict, saved_config: TrainingConfig | None) -> TrainingConfig:
    """The run's config: the saved one when resuming (anything given must agree with it),
    else the defaults updated with what was given."""
    if saved_config is None:
        if "target" not in given or "arch" not in given:
            raise StemdeskError("--target and --arch are needed to start a run")
        given = dict(given)
        mixing = {**asdict(MixingOptions()), **given.pop("mixing", {})}
        model = given.pop("model", {})
        return TrainingConfig(**given, model=model, mixing=mixing)
    saved = asdict(saved_config)
    differing = sorted(k for k, v in given.items() if k not in ("model", "mixing") and saved[k] != v)
    differing += [k for k in ("model", "mixing") if k in given and {**saved[k], **given[k]} != saved[k]]
    if differing:
        raise StemdeskError(f"the run in progress was started with other {', '.join(differing)}; resume without them")
    return saved_config


def _trainer_for(given: dict, options: RunOptions) -> Trainer:
    """The session the command line asks for; a checkpoint to resume is read here, once."""
    checkpoint_path = options.run_dir / CHECKPOINT
    if options.resume and checkpoint_path.exists():
        saved = read_checkpoint(checkpoint_path)
        _config_from(given, TrainingConfig.from_json(saved["config"]))
        return Trainer.resume(saved, options)
    if checkpoint_path.exists():
        raise StemdeskError(f"{options.run_dir} holds a run already: pass --resume to go on with it, or another --out")
    return Trainer.start(_config_from(given, None), options)


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.training.train") -> int:
    args = vars(_parser(prog).parse_args(argv))
    no_export, export_dtype = args.pop("no_export"), args.pop("export_dtype")
    options = RunOptions(
        data=args.pop("data"), run_dir=args.pop("out"), steps=args.pop("steps"), device=args.pop("device"),
        minutes=args.pop("minutes"), workers=args.pop("workers"), resume=args.pop("resume"),
        export_dtype=None if no_export else export_dtype, progress=not args.pop("no_progress"),
    )
    # What is left: the run's settings that were given on the command line.
    given = args
    try:
        outcome = _trainer_for(given, options).run()
    except StemdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"step {outcome.step} of {options.steps} ({outcome.steps_this_session} steps in {outcome.seconds:.0f} s "
        f"this session); checkpoint, loss.csv and loss.png in {options.run_dir}"
    )
    if outcome.exported:
        print(f"exported {outcome.exported[0]} and {outcome.exported[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
