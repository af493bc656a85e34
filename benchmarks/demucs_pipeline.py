"""The reference pipeline: demucs 4.1.0's own PyTorch inference on htdemucs.onnx's weights.

What ``demucs.separate`` does for one file, without its audio I/O (torchaudio
has no build for this torch): the song normalised by the mean and std of its
channels' average, ``apply_model`` (segments of 7.8 s, overlap 0.25, triangle
transitions, ``shifts``), scaled back. The weights are read back from the
ONNX by ``stemdesk.training.htdemucs.read_weights`` and kept as a state dict
in the user's cache (keyed by the ONNX's sha256), so later runs skip the
30-second mapping.

    python benchmarks/demucs_pipeline.py IN.wav OUT_DIR [--onnx PATH] [--shifts 1] [--threads 2]

Writes ``OUT_DIR/<stem>.wav`` (16-bit, like stemdesk's and demucs-js' stems).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import platformdirs
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stemdesk.training.htdemucs import htdemucs, read_weights  # noqa: E402


def pretrained(onnx_path: Path):
    """HTDemucs with the weights of ``onnx_path``, from the state-dict cache when there."""
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()[:16]
    cached = platformdirs.user_cache_path("stemdesk") / "demucs-reference" / f"htdemucs-{digest}.pt"
    model = htdemucs()
    if cached.is_file():
        model.load_state_dict(torch.load(cached, weights_only=True))
        return model
    read_weights(model, onnx_path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    temp = cached.with_suffix(".part")
    torch.save(model.state_dict(), temp)
    temp.replace(cached)
    return model


def separate(model, mix: np.ndarray, shifts: int, overlap: float = 0.25) -> np.ndarray:
    """float32 ``(2, N)`` at 44.1 kHz -> ``(S, 2, N)`` as ``demucs.separate`` computes it."""
    from demucs.apply import apply_model

    wav = torch.from_numpy(mix)
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    wav = (wav - mean) / std
    with torch.no_grad():
        sources = apply_model(model, wav[None], shifts=shifts, split=True, overlap=overlap, progress=False)[0]
    return (sources * std + mean).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--shifts", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples, rate = sf.read(args.input, dtype="float32", always_2d=True)
    if rate != 44100:
        raise SystemExit(f"{args.input}: the reference needs 44.1 kHz, got {rate}")
    mix = samples.T if samples.shape[1] == 2 else np.repeat(samples.T, 2, axis=0)
    model = pretrained(args.onnx)
    stems = separate(model, np.ascontiguousarray(mix), args.shifts)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, stem in zip(model.sources, stems):
        sf.write(args.out / f"{name}.wav", stem.T, rate, subtype="PCM_16")


if __name__ == "__main__":
    main()
