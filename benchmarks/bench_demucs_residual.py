"""Does projecting the residual onto the stems cost SDR? htdemucs raw vs summing to the song (part 3).

Demucs' raw outputs do not sum to the song; stemdesk adds the residual to the
stems bin by bin in proportion to their power (``hybrid.project_residual``).
Both are scored with ``stemdesk eval``'s machinery (BSS Eval v4, middle
--seconds of each song) on a rendered test split; prints the median SDR of
each per stem and the median over songs of the per-song difference.

    STEMDESK_HTDEMUCS_ONNX=/path/htdemucs.onnx python benchmarks/bench_demucs_residual.py \\
        --data DIR [--split test] [--tracks 10] [--seconds 8] [--variant FIELD=VALUE ...]

``--variant`` scores the card against a copy with those card fields changed
(JSON values: ``cpu_weights=\"float32\"``, ``overlap=0.1``) instead of raw
against summing: how a faster setting of the engine costs in SDR. The identity (the
mixture as the estimate) and the oracle (power-2 ratio mask) frame the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from installed_htdemucs import card_variant, htdemucs_card  # noqa: E402

from stemdesk.datasets import load_dataset  # noqa: E402
from stemdesk.evaluation.scoring import score_dataset  # noqa: E402
from stemdesk.hybrid import HybridSeparator  # noqa: E402


def sdr_by_song(scores, method: str = "model") -> dict[tuple[str, str], float]:
    return {(s.track, s.stem): s.sdr for s in scores if s.method == method and s.sdr == s.sdr}  # NaN: all silent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--tracks", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--variant", nargs="+", metavar="FIELD=VALUE")
    args = parser.parse_args()
    card = htdemucs_card()
    if card is None:
        raise SystemExit("htdemucs is not installed; set STEMDESK_HTDEMUCS_ONNX to an htdemucs.onnx")
    songs = load_dataset(args.data, args.split)[: args.tracks]
    with tempfile.TemporaryDirectory() as folder:
        if args.variant:
            fields = {field: json.loads(value) for field, value in (item.split("=", 1) for item in args.variant)}
            changed = ",".join(f"{field}={value}" for field, value in fields.items())
            contenders = {"card": HybridSeparator(card, "cpu"),
                          changed: HybridSeparator(card_variant(card, Path(folder) / "variant", **fields), "cpu")}
        else:
            contenders = {"raw": HybridSeparator(card, "cpu", sum_to_mixture=False), "summing": HybridSeparator(card, "cpu")}
        scored, references = {}, {}
        for name, separator in contenders.items():
            scores = score_dataset(separator, songs, args.seconds,
                                   lambda done, total, track, name=name: print(f"{name} [{done}/{total}] {track.name}", file=sys.stderr))
            scored[name] = sdr_by_song(scores)
            references = {method: sdr_by_song(scores, method) for method in ("identity", "oracle")}
    first, second = contenders
    print(f"{len(songs)} songs of {args.data}/{args.split}, middle {args.seconds:g} s; median SDR in dB")
    print(f"{'stem':8s} {'songs':>5s} {first:>9s} {second:>9s} {'median diff':>12s} {'identity':>9s} {'oracle':>7s}")
    for stem in card.stems:
        keys = [key for key in scored[first] if key[1] == stem and key in scored[second]]
        if not keys:
            continue
        a = statistics.median(scored[first][k] for k in keys)
        b = statistics.median(scored[second][k] for k in keys)
        diff = statistics.median(scored[second][k] - scored[first][k] for k in keys)
        identity, oracle = (statistics.median(references[m][k] for k in keys) for m in ("identity", "oracle"))
        print(f"{stem:8s} {len(keys):5d} {a:9.2f} {b:9.2f} {diff:+12.2f} {identity:9.2f} {oracle:7.2f}")


if __name__ == "__main__":
    main()
