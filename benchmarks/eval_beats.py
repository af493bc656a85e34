"""Beat, downbeat and tempo accuracy of :func:`stemdesk.analysis.analyse_beats` on labelled songs.

    python benchmarks/eval_beats.py DATA [--stems]

DATA holds track folders with ``mixture.wav`` and ``beats.json`` (what ``stemdesk synth``
writes for procedural songs, or any folder in that layout). With ``--stems`` the track's
``drums.wav`` and ``bass.wav`` (the true stems) are passed in, as a model's would be.
Prints per track and on average: mir_eval's beat and downbeat F-measure (70 ms window),
whether the tempo is within 4 % of the label, and the mean signed error of matched beats.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mir_eval
import numpy as np

from stemdesk.analysis import analyse_beats
from stemdesk.audio import decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--stems", action="store_true", help="pass the true drums and bass stems")
    args = parser.parse_args()
    rows = []
    for labels_path in sorted(args.data.rglob("beats.json")):
        folder = labels_path.parent
        truth = json.loads(labels_path.read_text())
        mixture = decode(folder / "mixture.wav")
        stems = {name: decode(folder / f"{name}.wav") for name in ("drums", "bass")
                 if args.stems and (folder / f"{name}.wav").is_file()}
        began = time.perf_counter()
        grid = analyse_beats(mixture, stems or None)
        elapsed = time.perf_counter() - began
        reference, estimate = np.asarray(truth["beats"]), grid.beats
        beat_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(estimate))
        down_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(truth["downbeats"])),
                                         mir_eval.beat.trim_beats(grid.downbeats))
        tempo_ok = abs(grid.bpm / truth["bpm"] - 1) < 0.04
        nearest = reference[np.argmin(np.abs(reference[None, :] - estimate[:, None]), axis=1)] if len(estimate) else []
        offsets = (estimate - nearest)[np.abs(estimate - nearest) < 0.07] if len(estimate) else np.empty(0)
        offset = float(np.mean(offsets)) if len(offsets) else float("nan")
        rows.append((beat_f, down_f, tempo_ok, offset))
        print(f"{folder.name}: bpm {truth['bpm']:6.1f} -> {grid.bpm:6.1f}  meter {truth['meter']} -> {grid.meter}  "
              f"beats F {beat_f:.3f}  downbeats F {down_f:.3f}  offset {offset * 1000:+5.1f} ms  ({elapsed:.2f} s)")
    if not rows:
        raise SystemExit(f"no beats.json under {args.data}")
    beat_f, down_f, tempo_ok, offset = (np.array(column, dtype=float) for column in zip(*rows))
    print(f"{len(rows)} songs{' with drums/bass stems' if args.stems else ''}: beats F {beat_f.mean():.3f}  "
          f"downbeats F {down_f.mean():.3f}  tempo right {int(tempo_ok.sum())}/{len(rows)}  "
          f"mean offset {np.nanmean(offset) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
