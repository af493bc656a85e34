"""Train the beat network: beat and downbeat activations from a log-mel spectrogram.

    python -m stemdesk.training.beat_net DATA [DATA...] --out resources/beats --steps 3000

DATA folders hold track folders with ``mixture.wav`` and ``beats.json`` (what
``stemdesk synth`` and ``benchmarks/render_meter_songs.py`` write). The network is a
non-causal temporal convolutional network (dilated 1-D convolutions over frames,
receptive field about 12 s) that reads :func:`stemdesk.analysis.activation.network_input`
and gives two probabilities per frame: a beat, a downbeat. The labels are widened to
the frames either side at half weight, as beat trackers are usually trained, since a
beat 5 ms off its label is no error.

Each step takes random 12 s crops of random songs, stretched in time by a random
factor (a song at 100 bpm becomes one at 70-140 bpm: the renders cover a few tempo
ranges only), tilted in spectrum and with bands masked, so the network learns the
rhythm rather than the SoundFont. Checkpoints (state dicts, never pickles) are saved
every few hundred steps and training resumes from the last one; the end exports
``beat-tcn.onnx`` and its card (``--export-only`` exports the last checkpoint as it is;
``--note`` says in the card how DATA was made). Torch runs on one thread: the build
machine is shared.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stemdesk.analysis.activation import network_input
from stemdesk.analysis.features import FPS, log_mel, mono
from stemdesk.audio import decode
from stemdesk.training.onnx_export import export_onnx

CROP_FRAMES = int(12 * FPS)
MIN_STRETCH, MAX_STRETCH = 0.7, 1.4
#: Tempi (beats a minute) a stretched crop may end up at.
MIN_BPM, MAX_BPM = 45.0, 215.0


class BeatTCN(nn.Module):
    """``(batch, 2 * mels, frames)`` -> ``(batch, 2, frames)`` beat and downbeat logits
    (probabilities with ``probabilities=True``, as exported)."""

    def __init__(self, features: int = 192, channels: int = 32,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128), dropout: float = 0.1) -> None:
        super().__init__()
        self.front = nn.Sequential(
            nn.Conv1d(features, channels, 3, padding=1), nn.ELU(), nn.Dropout(dropout),
            nn.Conv1d(channels, channels, 3, padding=1), nn.ELU(), nn.Dropout(dropout),
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(channels, channels, 5, padding=2 * d, dilation=d), nn.ELU(), nn.Dropout(dropout),
                          nn.Conv1d(channels, channels, 1))
            for d in dilations
        )
        self.head = nn.Conv1d(channels, 2, 1)
        self.probabilities = False

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        hidden = self.front(spectrum)
        for block in self.blocks:
            hidden = F.elu(hidden + block(hidden))
        logits = self.head(hidden)
        return torch.sigmoid(logits) if self.probabilities else logits


class Track:
    """One labelled song in memory: network input ``(features, frames)`` and beat/downbeat times (s)."""

    def __init__(self, folder: Path) -> None:
        labels = json.loads((folder / "beats.json").read_text())
        self.inputs = network_input(log_mel(mono(decode(folder / "mixture.wav"))))
        self.beats = np.asarray(labels["beats"], dtype=np.float64)
        self.downbeats = np.asarray(labels["downbeats"], dtype=np.float64)
        self.bpm = float(labels["bpm"])


def targets(times: np.ndarray, start: float, stretch: float, frames: int) -> np.ndarray:
    """Frame targets ``(frames,)`` of a crop from source frame ``start`` stretched by ``stretch``:
    1 on each labelled frame, 0.5 on its neighbours."""
    target = np.zeros(frames, np.float32)
    positions = np.round((times * FPS - start) / stretch).astype(int)
    for offset, weight in ((-1, 0.5), (1, 0.5), (0, 1.0)):
        shifted = positions + offset
        shifted = shifted[(shifted >= 0) & (shifted < frames)]
        target[shifted] = np.maximum(target[shifted], weight)
    return target


def batch(tracks: list[Track], size: int, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch: inputs ``(size, features, CROP_FRAMES)``, targets ``(size, 2, CROP_FRAMES)``."""
    inputs, labels = [], []
    for _ in range(size):
        track = rng.choice(tracks)
        low = max(MIN_STRETCH, MIN_BPM / track.bpm)
        high = min(MAX_STRETCH, MAX_BPM / track.bpm)
        stretch = math.exp(rng.uniform(math.log(low), math.log(high))) if high > low else 1.0
        # ``stretch`` is the tempo factor: source frames per crop frame.
        span = int(math.ceil(CROP_FRAMES * stretch)) + 1
        total = track.inputs.shape[1]
        start = rng.randrange(0, max(total - span, 1))
        piece = torch.from_numpy(track.inputs[:, start : start + span])
        if piece.shape[1] < span:
            piece = F.pad(piece, (0, span - piece.shape[1]))
        crop = F.interpolate(piece[None], size=int(round(span / stretch)), mode="linear", align_corners=False)[0]
        crop = _augmented(crop[:, :CROP_FRAMES], rng)
        inputs.append(crop)
        labels.append(np.stack([targets(track.beats, start, stretch, CROP_FRAMES),
                                targets(track.downbeats, start, stretch, CROP_FRAMES)]))
    return torch.stack(inputs), torch.from_numpy(np.stack(labels))


def _augmented(crop: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """A spectral tilt (up to +-12 dB across the bands) and one masked band range."""
    mels = crop.shape[0] // 2
    level, rise = crop[:mels], crop[mels:]
    tilt = torch.linspace(-1.0, 1.0, mels)[:, None] * rng.uniform(-12, 12) / 80.0
    level = torch.clamp(level + tilt * (level > 0), 0.0, 1.0)
    width = rng.randrange(0, mels // 6)
    first = rng.randrange(0, mels - width)
    level[first : first + width] = 0.0
    rise = rise.clone()
    rise[first : first + width] = 0.0
    return torch.cat([level, rise])


def load_tracks(roots: list[Path]) -> list[Track]:
    folders = sorted({path.parent for root in roots for path in Path(root).rglob("beats.json")})
    return [Track(folder) for folder in folders]


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    began = time.perf_counter()
    checkpoint = args.out / "beat-tcn.checkpoint.pt"
    model = BeatTCN()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, trained = 0, 0.0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, trained = int(state["step"]), float(state.get("seconds", 0.0))
        print(f"resumed at step {step}", flush=True)
    if args.export_only:
        export(model, args, step, trained)
        return
    tracks = load_tracks(args.data)
    print(f"{len(tracks)} tracks loaded in {time.perf_counter() - began:.0f} s", flush=True)
    valid_rng = random.Random(12345)
    valid = [batch(tracks[: args.valid], 8, valid_rng) for _ in range(4)]
    tracks = tracks[args.valid :]
    # Downbeats are a quarter as frequent as beats: weigh them up so both heads learn.
    weight = torch.tensor([1.0, 2.0])[None, :, None]
    began = time.perf_counter() - trained
    while step < args.steps:
        for group in optimiser.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        model.train()
        inputs, labels = batch(tracks, args.batch, rng)
        loss = _loss(model(inputs), labels, weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.4f} ({time.perf_counter() - began:.0f} s)", flush=True)
        if step % 250 == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                held = np.mean([_loss(model(x), y, weight).item() for x, y in valid])
            print(f"step {step}: validation loss {held:.4f}", flush=True)
            args.out.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                        "seconds": time.perf_counter() - began}, checkpoint)
    export(model, args, step, time.perf_counter() - began)


def _loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * weight).mean()


def export(model: BeatTCN, args: argparse.Namespace, steps: int, seconds: float) -> None:
    """Write ``beat-tcn.onnx`` (giving probabilities) and its card into ``args.out``; ``model`` is left as it was."""
    model = copy.deepcopy(model).eval()
    model.probabilities = True
    card = {
        "id": "beat-tcn",
        "name": "beat and downbeat activations",
        "architecture": "temporal convolutional network (2 conv + 8 dilated residual blocks, 32 channels)",
        "input": {"name": "spectrum", "layout": "batch,features,frames",
                  "holds": "stemdesk.analysis.activation.network_input of a 96-band log-mel spectrogram, "
                           "22.05 kHz, hop 256"},
        "output": {"name": "activations", "layout": "batch,classes,frames", "holds": "P(beat), P(downbeat) per frame"},
        "source": {"data": args.note or [str(path) for path in args.data], "validation_songs": args.valid,
                   "steps": steps, "batch": args.batch, "crop_seconds": round(CROP_FRAMES / FPS, 2),
                   "stretch": [MIN_STRETCH, MAX_STRETCH], "seed": args.seed,
                   "command": "python -m stemdesk.training.beat_net"},
        **({"training_seconds": round(seconds)} if seconds else {}),
        "license": "MIT (trained here on audio rendered from MIT-licensed SoundFonts)",
    }
    example = torch.zeros(1, 192, 1000)
    export_onnx(model, example, card, args.out, weights_dtype="float16", dynamic_dims={"batch": 1, "frames": 1})
    print(f"exported {args.out / 'beat-tcn.onnx'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--valid", type=int, default=16, help="songs kept out of training for the validation loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", help="how DATA was made, for the card")
    parser.add_argument("--export-only", action="store_true", help="export the last checkpoint in --out and stop")
    train(parser.parse_args())


if __name__ == "__main__":
    main()
