"""The first open of htdemucs on the CPU (empty cache: its CPU graph built), this stemdesk against an older one.

Each contender opens ``HybridSeparator(card, "cpu")`` in a fresh process with
``$XDG_CACHE_HOME`` a fresh empty folder, so the graph is quantised, calibrated,
fused and optimised from the installed htdemucs.onnx; in turn, for --repeats
rounds. stemdesk-before is the stemdesk of --before (a git revision, default
main), from its own tree. Prints each run's wall time, CPU time (user + sys) and
peak RSS of the whole process, then the medians side by side.

    nice -n 10 python benchmarks/bench_first_open.py [--repeats 2] [--before main]

This process imports nothing heavy: a child's peak RSS (``ru_maxrss``) starts
from its parent's size when it was forked.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from timed_process import load, timed_run  # noqa: E402

#: Run in the contender's tree: open htdemucs on the CPU, and check that its graph was built into the cache.
OPEN = """
import sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]) / "benchmarks"))
from installed_htdemucs import htdemucs_card
from stemdesk.hybrid import HybridSeparator
from stemdesk.optimized_models import cache_folder
card = htdemucs_card()
if card is None:
    raise SystemExit("htdemucs is not installed; set STEMDESK_HTDEMUCS_ONNX to an htdemucs.onnx")
HybridSeparator(card, "cpu")
import stemdesk
if Path(stemdesk.__file__).parents[1] != Path(sys.argv[1]):
    raise SystemExit("ran another tree's stemdesk: " + stemdesk.__file__)
if not list(cache_folder().glob(card.id + "-*.onnx")):
    raise SystemExit("no CPU graph was cached")
"""


def timed_open(tree: Path) -> tuple[float, float, float]:
    """One first open with ``tree``'s stemdesk and an empty cache: (wall s, CPU s, peak RSS MB)."""
    with tempfile.TemporaryDirectory(prefix="first-open-cache-") as cache:
        # Run from ``tree``: ``python -c`` puts the working folder first on the path, before PYTHONPATH.
        return timed_run([sys.executable, "-c", OPEN, str(tree)], tree, tree, {"XDG_CACHE_HOME": cache})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before", default="main", help="the git revision of stemdesk-before (default main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "stemdesk", "benchmarks", "models",
                                  "resources"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        described = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.before],
                                   capture_output=True, text=True, check=True).stdout.strip()
        print(f"stemdesk-before is {args.before} ({described}); load before: {load()}")
        trees = {"stemdesk": ROOT, "stemdesk-before": before}
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
        for round_ in range(args.repeats):
            for name, tree in trees.items():
                wall, cpu, rss = timed_open(tree)
                results[name].append((wall, cpu, rss))
                print(f"round {round_ + 1} {name:15s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  peak RSS {rss:6.0f} MB",
                      flush=True)
        print(f"load after: {load()}")
        print(f"{'median':15s} {'wall s':>8s} {'cpu s':>8s} {'RSS MB':>8s}")
        for name, runs in results.items():
            wall, cpu, rss = (statistics.median(run[k] for run in runs) for k in range(3))
            print(f"{name:15s} {wall:8.1f} {cpu:8.1f} {rss:8.0f}")


if __name__ == "__main__":
    main()
