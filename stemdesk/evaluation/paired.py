"""Is one model really better than another? Song-by-song differences between two evaluations.

    python -m stemdesk.evaluation.paired BASE.json OTHER.json [MORE.json ...] --stem guitar [--metric sdr]

Medians of two ``stemdesk eval`` runs on the same songs differ by a few tenths of a dB
for reasons that have nothing to do with the models (which songs sit near the median);
the per-song differences, paired, say more. For each report after the first (the
``.json`` beside a report's ``.md``) this prints, on the songs both scored: the median
and mean of ``other - base``, in how many songs ``other`` is higher, and the two-sided
Wilcoxon signed-rank p-value (a small p: a difference not explained by chance). User
errors print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from stemdesk.errors import StemdeskError

METRICS = ("sdr", "sir", "sar", "global_sdr")


@dataclass(frozen=True)
class PairedDifference:
    """``other - base`` in dB over the songs both reports scored."""

    songs: int
    median: float
    mean: float
    higher: int
    p_value: float


def song_scores(report: Path, stem: str, metric: str = "sdr") -> dict[str, float]:
    """``{song: dB}``: the model's ``metric`` for ``stem`` in each song of an evaluation's ``.json``."""
    try:
        data = json.loads(Path(report).read_text(encoding="utf-8"))
        scores = data["scores"]
    except OSError as error:
        raise StemdeskError(f"cannot read the report '{report}': {error.strerror}") from error
    except (ValueError, KeyError, TypeError):
        raise StemdeskError(f"'{report}' is not the .json of a stemdesk eval report") from None
    values = {score["track"]: score[metric] for score in scores
              if score["stem"] == stem and score["method"] == "model" and score[metric] is not None}
    if not values:
        stems = sorted({score["stem"] for score in scores})
        raise StemdeskError(f"'{report}' scored no song for stem {stem!r} (its stems: {', '.join(stems)})")
    return values


def paired_difference(base: dict[str, float], other: dict[str, float]) -> PairedDifference:
    """The difference ``other - base`` song by song, on the songs both have."""
    songs = sorted(base.keys() & other.keys())
    if len(songs) < 2:
        raise StemdeskError(f"the two reports share {len(songs)} song(s): at least 2 are needed to compare them")
    difference = np.array([other[song] - base[song] for song in songs])
    # All-equal scores (a model against itself) have no ranks to test: nothing to explain.
    p_value = 1.0 if not difference.any() else float(wilcoxon(difference).pvalue)
    return PairedDifference(len(songs), float(np.median(difference)), float(difference.mean()),
                            int((difference > 0).sum()), p_value)


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.evaluation.paired") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="evaluation .json files; the first is the base")
    parser.add_argument("--stem", required=True, help="the stem to compare, e.g. guitar")
    parser.add_argument("--metric", choices=METRICS, default="sdr")
    args = parser.parse_args(argv)
    if len(args.reports) < 2:
        parser.error("give the base report and at least one other")
    try:
        scores = [song_scores(report, args.stem, args.metric) for report in args.reports]
        rows = [paired_difference(scores[0], other) for other in scores[1:]]
    except StemdeskError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    print(f"| report | songs | median {args.metric} | paired median change | mean change | higher in | Wilcoxon p |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.reports[0]} (base) | {len(scores[0])} | {np.median(list(scores[0].values())):.2f} | | | | |")
    for report, values, row in zip(args.reports[1:], scores[1:], rows):
        print(f"| {report} | {row.songs} | {np.median(list(values.values())):.2f} | {row.median:+.2f} | "
              f"{row.mean:+.2f} | {row.higher}/{row.songs} | {row.p_value:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
