"""How far a mask can go: oracle masks of several kinds and STFTs on a dataset's songs.

    python -m stemdesk.evaluation.ceilings --data DIR [--split test] --targets guitar piano
        [--stage other [--first-stage htdemucs.other]] [--tracks N] [--seconds 8]
        [--stft 4096:1024 8192:2048]

Before training a mask model, its ceiling: for each target (a class, or a substem such
as ``guitar-lead``, on the songs that have it) and STFT (``n_fft:hop``), the median over
songs of the BSS Eval SDR of

* ``ratio-p1``: the power-1 ratio mask ``|S| / (|S| + |R|)``, the oracle that
  ``stemdesk eval`` reports beside a card with ``mask_power`` 1;
* ``ratio-p2``: the power-2 ratio mask ``|S|^2 / (|S|^2 + |R|^2)``;
* ``phase-sensitive``: ``Re(S / X)`` clipped to [0, 1], the best real mask, which
  ``--objective phase-sensitive`` teaches a network;

and, the floor beneath them, of the ``identity`` (the input itself taken as the target).

``--stage other`` computes them on what Demucs' "other" holds, and with
``--first-stage`` on the first stage's cached output (as ``stemdesk eval`` does):
the ceilings of a second stage through the chain. User errors print one line
on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stemdesk.datasets import Track, load_dataset
from stemdesk.errors import StemdeskError

from .metrics import bss_eval
from .references import SILENT_PEAK, phase_sensitive_masked, ratio_masked
from .scoring import song_excerpt
from .stages import songs_at_stage

RATE = 44_100
#: Each oracle mask by name: (references, mixture, n_fft, hop) -> estimates, shapes as ``ratio_masked``.
MASKS: dict[str, Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]] = {
    "ratio-p1": lambda refs, mix, n_fft, hop: ratio_masked(refs, mix, n_fft, hop, 1.0),
    "ratio-p2": lambda refs, mix, n_fft, hop: ratio_masked(refs, mix, n_fft, hop, 2.0),
    "phase-sensitive": phase_sensitive_masked,
}


def ceilings(
    songs: list[Track],
    targets: list[str],
    stfts: list[tuple[int, int]],
    seconds: float | None = 8.0,
    progress: Callable[[Track], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """``{target: {"identity" or "<mask> <n_fft>:<hop>": [SDR of each song where the target sounds]}}``.

    Raises StemdeskError for a target that no song has (a typo, a class a dataset does not
    separate, a substem its render lacks), before any song is read.
    """
    missing = [target for target in targets if not any(target in {*song.stems, *song.substems} for song in songs)]
    if missing:
        raise StemdeskError(f"none of the {len(songs)} songs has a {' or '.join(missing)} stem")
    scores: dict[str, dict[str, list[float]]] = {
        target: {"identity": [], **{f"{mask} {n_fft}:{hop}": [] for n_fft, hop in stfts for mask in MASKS}}
        for target in targets
    }
    for song in songs:
        stems, mixture = song_excerpt(song, RATE, seconds)
        for target in targets:
            if target not in stems or float(np.max(np.abs(stems[target]))) < SILENT_PEAK:
                continue
            truth = stems[target][None]
            scores[target]["identity"].append(float(bss_eval(truth, mixture[None], RATE).sdr[0]))
            for n_fft, hop in stfts:
                for mask, extract in MASKS.items():
                    estimate = extract(truth, mixture, n_fft, hop)
                    scores[target][f"{mask} {n_fft}:{hop}"].append(float(bss_eval(truth, estimate, RATE).sdr[0]))
        if progress is not None:
            progress(song)
    return scores


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.evaluation.ceilings") -> int:
    args = _parser(prog).parse_args(argv)
    try:
        # The songs `stemdesk eval` scores with the same options.
        songs = songs_at_stage(load_dataset(args.data, args.split)[: args.tracks], args.stage, args.first_stage)
        table = ceilings(songs, args.targets, args.stft, args.seconds or None,
                         lambda song: print(f"{song.name}", file=sys.stderr, flush=True))
    except StemdeskError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    for target, by_mask in table.items():
        for name, values in by_mask.items():
            median = f"{np.median(values):6.2f} dB" if values else "     -   "
            print(f"{target:11s} {name:26s} median SDR {median} ({len(values)} songs)")
    return 0


def _stft(text: str) -> tuple[int, int]:
    try:
        n_fft, hop = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N_FFT:HOP") from None
    if n_fft < 16 or not 0 < hop <= n_fft:
        raise argparse.ArgumentTypeError(f"{text!r}: need N_FFT >= 16 and 0 < HOP <= N_FFT")
    return n_fft, hop


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="dataset folder")
    parser.add_argument("--split", help="only songs in this split folder (e.g. test)")
    parser.add_argument("--targets", nargs="+", required=True, help="stems to extract, e.g. guitar piano guitar-lead")
    parser.add_argument("--stage", choices=("mix", "other"), default="mix")
    parser.add_argument("--first-stage", help="with --stage other: the cached first stage, e.g. htdemucs.other")
    parser.add_argument("--tracks", type=int, help="only the first N songs")
    parser.add_argument("--seconds", type=float, default=8.0, help="the middle S seconds of each song, 0: whole")
    parser.add_argument("--stft", type=_stft, nargs="+", default=[(4096, 1024)], help="N_FFT:HOP ... (default 4096:1024)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
