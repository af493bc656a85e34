"""Peak memory of separating long songs: whole-song path against streamed stems, side by side.

For each length (the demo song tiled to --minutes, a 16-bit WAV), three ways
of writing its stems run in fresh processes, one after the other:

- ``before``: ``stemdesk separate`` of an older commit (--before, default the
  commit before streaming), which decoded, separated and wrote whole arrays;
- ``whole``:  this tree's whole-song way, the window's (``audio.decode``, the
  separator's ``separate``, ``exports.export_stems`` with the song's gain);
- ``streamed``: this tree's ``stemdesk separate`` (blocks in, spans out).

Prints wall time and peak RSS (the child's ru_maxrss) per run, the ratios
against ``before``, and checks that the streamed stems equal the whole-song
ones sample for sample.

    python benchmarks/bench_long_song_memory.py [--minutes 10 60] [--before REV] [--paths before whole streamed]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo" / "audio_example.mp3"
BEFORE = "0dfed9d"  # main before streaming stems to disk

WHOLE_PATH = """
import sys
from pathlib import Path
from stemdesk.audio import decode
from stemdesk.catalogue import Catalogue
from stemdesk.exports import export_stems
from stemdesk.stem_files import song_folder, song_gain
mixture = decode(sys.argv[1])
stems = Catalogue().open("spleeter-2stems", device="cpu").separate(mixture)
export_stems(stems, None, song_folder(Path(sys.argv[1]), Path(sys.argv[2])), gain=song_gain(stems, mixture, "FLOAT"))
"""


def make_song(path: Path, minutes: float) -> float:
    """The demo tiled to ``minutes`` as a 16-bit WAV, written block by block; its seconds."""
    samples, rate = sf.read(DEMO, dtype="float32", always_2d=True)
    frames = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=samples.shape[1], subtype="PCM_16") as out:
        for start in range(0, frames, len(samples)):
            out.write(samples[: frames - start])
    return frames / rate


def run(command: list[str], tree: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of ``command`` run with ``tree`` on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return seconds, usage.ru_maxrss * 1024


def same_stems(first: Path, second: Path) -> float:
    """The largest sample difference between the stems in two song folders."""
    worst = 0.0
    for path in sorted(first.glob("*.wav")):
        with sf.SoundFile(path) as one, sf.SoundFile(second / path.name) as other:
            while True:
                a, b = one.read(1 << 20, dtype="float32"), other.read(1 << 20, dtype="float32")
                if len(a) == 0 and len(b) == 0:
                    break
                if a.shape != b.shape:
                    return float("inf")
                worst = max(worst, float(np.abs(a - b).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--before", default=BEFORE, help="commit whose CLI is the 'before' run")
    parser.add_argument("--paths", nargs="+", default=["before", "whole", "streamed"],
                        choices=["before", "whole", "streamed"], help="which ways to run (default all three)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="stemdesk-longsong-") as temp:
        temp = Path(temp)
        before_tree = temp / "before"
        if "before" in args.paths:
            before_tree.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "stemdesk", "models", "resources"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(before_tree)], input=archive, check=True)
        rows = []
        for minutes in args.minutes:
            song = temp / f"song{minutes:g}min.wav"
            seconds = make_song(song, minutes)
            runs = {}
            if "before" in args.paths:
                runs["before"] = run([python, "-m", "stemdesk.cli", "separate", str(song), "-o", str(temp / "before-out"),
                                      "--device", "cpu"], before_tree)
            if "whole" in args.paths:
                runs["whole"] = run([python, "-c", WHOLE_PATH, str(song), str(temp / "whole-out")], ROOT)
            if "streamed" in args.paths:
                runs["streamed"] = run([python, "-m", "stemdesk.cli", "separate", str(song), "-o",
                                        str(temp / "streamed-out"), "--device", "cpu"], ROOT)
            difference = None
            if "whole" in runs and "streamed" in runs:
                difference = same_stems(temp / "whole-out" / song.stem, temp / "streamed-out" / song.stem)
            rows.append((minutes, seconds, runs, difference))
            song.unlink()
            for folder in ("before-out", "whole-out", "streamed-out"):
                subprocess.run(["rm", "-rf", str(temp / folder)], check=True)
    print(f"{'song':>8} {'path':>9} {'wall s':>8} {'peak MB':>8} {'RSS vs first':>12}")
    for minutes, seconds, runs, difference in rows:
        first_rss = next(iter(runs.values()))[1]
        for name, (wall, rss) in runs.items():
            print(f"{minutes:>6g}mn {name:>9} {wall:>8.1f} {rss / 2**20:>8.0f} {rss / first_rss:>11.2f}x")
        if difference is not None:
            print(f"{'':>8} streamed vs whole stems: max |difference| {difference:.3g} ({seconds / 60:.1f} min of audio)")


if __name__ == "__main__":
    main()
