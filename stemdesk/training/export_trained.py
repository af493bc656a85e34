"""Turn a training checkpoint into the engine's model: ``<target>-<arch>.onnx`` + its card.

    python -m stemdesk.training.export_trained --checkpoint RUN_DIR/checkpoint.pt --out models

The graph has the engine's two-stem contract for single-target models: input
"magnitude" ``(batch, channels, frames, bins)``, output ``(batch, 2 stems, channels,
frames, bins)`` holding ``[target, rest]``. Mask networks output ``[m, 1 - m]`` with
``mask_power`` 1, so the engine applies exactly ``m`` to the target; magnitude
networks (Open-Unmix) output ``[estimate, relu(|X| - estimate)]`` with ``mask_power``
2 and a Wiener post-filter in the card. The command then checks the written file
under ONNX Runtime against float32 torch before it
replaces anything in the output folder.

The checkpoint is read with ``torch.load(weights_only=True)``: plain tensors, numbers
and strings only. Its keys (written by stemdesk.training.train): ``config`` (JSON
text: ``target``, ``arch``, ``model``, ``init``, STFT and training settings), ``model``
(the network's state dict), ``step``, ``sessions`` (JSON text: where and how long each
training session ran, on what data) and ``history`` (losses per step).
"""

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stemdesk.errors import StemdeskError
from stemdesk.training.architectures import architecture
from stemdesk.training.objectives import FITTED
from stemdesk.training.onnx_export import export_onnx

#: Largest acceptable difference, relative to the output's peak, between the written
#: file and float32 torch.
TOLERANCE = {"float16": 1e-2, "float32": 1e-4}


class TwoStemOutput(nn.Module):
    """Wraps a single-target network into the engine's ``[target, rest]`` output.

    ``forward`` takes magnitudes ``(batch, channels, frames, bins)`` float32 and returns
    ``(batch, 2, channels, frames, bins)`` float32: masks ``[m, 1 - m]`` for a mask
    network, magnitudes ``[estimate, relu(magnitude - estimate)]`` for a magnitude one.
    """

    def __init__(self, net: nn.Module, output_holds: str):
        super().__init__()
        if output_holds not in ("mask", "magnitude"):
            raise ValueError(f"output_holds must be 'mask' or 'magnitude', got {output_holds!r}")
        self.net = net
        self.output_holds = output_holds

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        target = self.net(magnitude)
        if self.output_holds == "mask":
            rest = 1.0 - target
        else:
            rest = torch.relu(magnitude[..., : target.shape[-1]] - target)
        return torch.stack([target, rest], dim=1)


def read_checkpoint(path: Path) -> dict:
    """A checkpoint as a dict, loaded without unpickling anything but tensors and plain values."""
    path = Path(path)
    if not path.is_file():
        raise StemdeskError(f"No checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise StemdeskError(f"Refusing to read {path}: it holds more than tensors and plain values") from None
    except (RuntimeError, EOFError):
        raise StemdeskError(f"Cannot read checkpoint {path}: the file is damaged or incomplete") from None


def trained_network(checkpoint: dict) -> TwoStemOutput:
    """The checkpoint's network in eval mode, wrapped for the engine."""
    config = json.loads(checkpoint["config"])
    arch = architecture(config["arch"])
    net = arch.build(config["model"])
    net.load_state_dict(checkpoint["model"])
    return TwoStemOutput(net, arch.output_holds).eval()


def trained_card(checkpoint: dict, weights_dtype: str = "float16", version: str = "1.0.0") -> dict:
    """The model card of a checkpoint; ``onnx`` and ``sha256`` are filled on export."""
    config = json.loads(checkpoint["config"])
    arch = architecture(config["arch"])
    model = config["model"]
    target = config["target"]
    # A second stage works on Demucs' "other", not on the song: its id says so.
    second_stage = config.get("stage", "mix") == "other"
    card = {
        "id": f"{target}-in-other-{arch.name}" if second_stage else f"{target}-{arch.name}",
        "name": f"{target.capitalize()} in Demucs' other ({arch.title})" if second_stage
        else f"{target.capitalize()} ({arch.title})",
        "version": version,
        "architecture": arch.name,
        "stems": [target, "rest"],
        "sample_rate": config["sample_rate"],
        "channels": model["channels"],
        "n_fft": config["n_fft"],
        "hop_length": config["hop_length"],
        "window": "hann",
        "bins": model["bins"],
        "segment_frames": config["segment_frames"],
        "frame_multiple": arch.frame_multiple(model),
        "input": {"name": "magnitude", "layout": "batch,channels,frames,bins", "holds": "magnitude"},
    }
    if arch.output_holds == "mask":
        # [m, 1 - m] sums to one already: power 1 makes the engine's normalisation exact.
        card["output"] = {"name": "mask", "layout": "batch,stems,channels,frames,bins", "holds": "mask"}
        card["mask_power"] = 1.0
    else:
        # Magnitude estimates become power ratio masks, refined by the Wiener filter
        # that also gives the stems their own phase.
        card["output"] = {"name": "estimate", "layout": "batch,stems,channels,frames,bins", "holds": "magnitude"}
        card["mask_power"] = 2.0
        card["postfilter"] = {"type": "wiener", "iterations": 1}
    card.update(
        onnx="",
        sha256="",
        license="MIT",
        source=_provenance(checkpoint, config, arch.title, weights_dtype),
        metrics={},
    )
    return card


def _provenance(checkpoint: dict, config: dict, title: str, weights_dtype: str) -> str:
    """One paragraph: what data, how many steps, where, how long, how it was initialised."""
    # A session that resumed a finished run trained nothing: it is not part of the story.
    sessions = [s for s in json.loads(checkpoint["sessions"]) if s["last_step"] > s["first_step"]]
    seconds = sum(s["seconds"] for s in sessions)
    devices = sorted({s["device"] for s in sessions})
    last = sessions[-1] if sessions else {"data": "?", "train_tracks": 0, "valid_tracks": 0}
    chunk_seconds = (config["chunk_frames"] - 1) * config["hop_length"] / config["sample_rate"]
    init = f"initialised from {config['init']}" if config.get("init") else "trained from scratch"
    # Fine-tuned from an installed model ("<id> <version>: <its card's source>"): its story goes along.
    started_from, _, its_story = checkpoint.get("init_provenance", "").partition(": ")
    if its_story:
        init = f"fine-tuned from {started_from}"
    valid = checkpoint["history"]["valid_loss"]
    validation = (
        f"validation L1 {valid[-1]:.4g} on {last['valid_tracks']} held-out tracks ({config['valid_split']})"
        if valid
        else "not validated"
    )
    storage = "fp16-stored weights" if weights_dtype == "float16" else "float32 weights"
    if config.get("stage", "mix") == "other":
        first_stage = config.get("first_stage")
        share = config["mixing"].get("first_stage_probability", 0.0)
        inputs = (
            "inputs: what Demucs' \"other\" holds (sub-mixes of every stem but vocals, drums and bass)"
            + (f", and for {share:.0%} of the chunks {first_stage}, the first stage's own output on the full mix"
               if first_stage and share > 0 else "")
            + "; "
        )
    else:
        inputs = ""
    return (
        f"stemdesk {title} for {config['target']}, {init}, by python -m stemdesk.training.train "
        f"--arch {config['arch']} --target {config['target']} (network {json.dumps(config['model'])}, "
        f"seed {config['seed']}): "
        f"{checkpoint['step']} steps of {config['batch']} random {chunk_seconds:.1f} s chunks mixed on the fly "
        f"from {last['train_tracks']} tracks of {last['data']}/{config['train_split']} "
        f"(L1 on {FITTED[config.get('objective', 'magnitude')]}, Adam lr {config['lr']}); {inputs}{validation}; "
        f"trained on {', '.join(devices) or 'nothing yet'} for {seconds / 60:.1f} min in {len(sessions)} session(s); "
        f"exported by python -m stemdesk.training.export_trained; {storage}."
        + (f" {started_from} was: {its_story}" if its_story else "")
    )


def export_checkpoint(
    checkpoint_path: Path, out_dir: Path, weights_dtype: str = "float16", version: str = "1.0.0"
) -> tuple[Path, Path]:
    """Write the checkpoint's ``.onnx`` and card into ``out_dir``; return both paths."""
    return export_trained(read_checkpoint(checkpoint_path), out_dir, weights_dtype, version)


def export_trained(
    checkpoint: dict, out_dir: Path, weights_dtype: str = "float16", version: str = "1.0.0"
) -> tuple[Path, Path]:
    """Write the ``.onnx`` and card of a checkpoint already in memory (as
    :func:`read_checkpoint` returns it, or a trainer holds it) into ``out_dir``."""
    module = trained_network(checkpoint)
    card = trained_card(checkpoint, weights_dtype, version)
    config = json.loads(checkpoint["config"])
    arch = architecture(config["arch"])
    # Batch 2: torch.export would specialise a size-1 dimension to a constant.
    example = torch.zeros(2, card["channels"], card["segment_frames"], card["bins"])
    dynamic_dims = {"batch": 1}
    if arch.dynamic_frames:
        dynamic_dims["frames"] = card["frame_multiple"]
    return export_onnx(module, example, card, out_dir, weights_dtype=weights_dtype, dynamic_dims=dynamic_dims)


def example_magnitudes(batch: int, channels: int, frames: int, bins: int, seed: int = 0) -> torch.Tensor:
    """``(batch, channels, frames, bins)`` float32, non-negative and spread over orders
    of magnitude across bins, like a song's magnitudes."""
    rng = np.random.default_rng(seed)
    spread = 10.0 ** rng.uniform(-2, 2, (1, 1, 1, bins))
    return torch.from_numpy((np.abs(rng.standard_normal((batch, channels, frames, bins))) * spread).astype(np.float32))


def onnx_difference(onnx_path: Path, module: nn.Module, magnitude: torch.Tensor) -> float:
    """Largest |ORT output - torch output| on ``magnitude``, relative to the torch output's peak."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: magnitude.numpy()})
    with torch.no_grad():
        expected = module(magnitude).numpy()
    return float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12))


def export_checked(
    checkpoint_path: Path, out_dir: Path, weights_dtype: str = "float16", version: str = "1.0.0"
) -> tuple[Path, Path, float]:
    """Export into ``out_dir`` only if the file ORT runs is within :data:`TOLERANCE` of float32 torch.

    The files are written and checked in a staging folder inside ``out_dir``, then moved into
    place, so a failed check leaves a model already there (a shipped one, say) untouched.
    Returns the two paths and the difference; raises :class:`StemdeskError` if it is too large.
    """
    checkpoint = read_checkpoint(checkpoint_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as staging:
        staged_onnx, staged_card = export_trained(checkpoint, Path(staging), weights_dtype, version)
        card = json.loads(staged_card.read_text())
        magnitude = example_magnitudes(2, card["channels"], card["segment_frames"], card["bins"])
        difference = onnx_difference(staged_onnx, trained_network(checkpoint), magnitude)
        if difference > TOLERANCE[weights_dtype]:
            raise StemdeskError(
                f"the {weights_dtype} export is {difference:.2e} from float32 torch (relative to the output's peak; "
                f"at most {TOLERANCE[weights_dtype]:.0e} is accepted): nothing written"
                + ("; try --weights-dtype float32" if weights_dtype != "float32" else "")
            )
        # The graph first: a card never names a file that is not there yet.
        onnx_path, card_path = out_dir / staged_onnx.name, out_dir / staged_card.name
        os.replace(staged_onnx, onnx_path)
        os.replace(staged_card, card_path)
    return onnx_path, card_path, difference


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.training.export_trained") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a training run's checkpoint.pt")
    parser.add_argument("--out", type=Path, default=Path("models"), help="folder for the .onnx and .json (default: models)")
    parser.add_argument("--weights-dtype", choices=sorted(TOLERANCE), default="float16")
    parser.add_argument("--version", default="1.0.0", help="the card's version (default: 1.0.0)")
    args = parser.parse_args(argv)
    try:
        start = time.perf_counter()
        onnx_path, card_path, difference = export_checked(args.checkpoint, args.out, args.weights_dtype, args.version)
    except StemdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) and {card_path} in {seconds:.0f} s")
    print(f"max |ORT - float32 torch| relative to the output's peak: {difference:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
