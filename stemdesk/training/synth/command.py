"""``python -m stemdesk.training.synth``: render a multitrack data set in the MUSDB18 layout.

    python -m stemdesk.training.synth --out data/synth --tracks 200 --seconds 30 \\
        --soundfont FluidR3_GM --split train --seed 1 --source both

``--soundfont`` may be given several times: track ``i`` is rendered with the
``i % n``-th of them (recorded in its metadata). ``--timbre varied`` puts every guitar
part through a random rig (pick noise, detuning, amp, cabinet, modulation, doubling).

Tracks are rendered in parallel processes (each loads the SoundFont once) and the
command can be stopped and run again: finished tracks are skipped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from stemdesk.errors import StemdeskError
from stemdesk.training.synth.dataset_writer import (
    SOURCES,
    TrackRequest,
    TrackResult,
    render_track,
)
from stemdesk.training.synth.effects import TIMBRES
from stemdesk.training.synth.genres import GENRE_NAMES
from stemdesk.training.synth.libfluidsynth import library
from stemdesk.training.synth.soundfonts import find_soundfont, installed_soundfonts


def build_parser(prog: str = "python -m stemdesk.training.synth") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Render multitrack songs (one stem per instrument class) with FluidSynth.",
    )
    parser.add_argument("--out", type=Path, help="data set root; tracks go to OUT/SPLIT/TRACK/")
    parser.add_argument("--tracks", type=int, default=10, help="number of tracks (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each track in seconds (default 30)")
    parser.add_argument("--soundfont", action="append",
                        help="SoundFont path or installed name (default FluidR3_GM; see --list-soundfonts); "
                             "several: tracks take them in turn")
    parser.add_argument("--split", default="train", help="split folder; 'test' and 'valid' use their own scores")
    parser.add_argument("--seed", type=int, default=0, help="data set seed: same seed, same tracks (default 0)")
    parser.add_argument("--source", choices=SOURCES, default="procedural",
                        help="procedural arrangements, music21 corpus scores, or both (default procedural)")
    parser.add_argument("--genre", choices=GENRE_NAMES, help="only this genre for procedural songs")
    parser.add_argument("--first", type=int, default=0, help="index of the first track (default 0)")
    parser.add_argument("--rate", type=int, default=44100, help="sample rate in Hz (default 44100)")
    parser.add_argument("--no-augment", action="store_true", help="dry parts at nominal levels, no effects")
    parser.add_argument("--timbre", choices=TIMBRES, default="classic",
                        help="classic: the effect chains of the shipped models' data; varied: guitars through "
                             "random rigs (pick noise, detune, amp, cabinet, modulation, doubling)")
    parser.add_argument("--jobs", type=int, default=_usable_cores(),
                        help="parallel processes (default: one per usable CPU core)")
    parser.add_argument("--list-soundfonts", action="store_true", help="print installed SoundFonts and exit")
    return parser


def _usable_cores() -> int:
    # sched_getaffinity honours CPU limits (containers, taskset); it is Linux-only.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.training.synth") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        if args.list_soundfonts:
            for path in installed_soundfonts():
                print(path)
            return 0
        if args.out is None:
            raise StemdeskError("--out is required: the folder the data set is written to")
        if args.tracks < 1 or args.seconds <= 0 or args.jobs < 1:
            raise StemdeskError("--tracks and --jobs must be at least 1 and --seconds positive")
        library()
        soundfonts = [find_soundfont(name) for name in args.soundfont or ["FluidR3_GM"]]
        requests = [
            TrackRequest(args.out, args.split, index, args.seed, args.seconds, soundfonts[index % len(soundfonts)],
                         args.source, args.rate, not args.no_augment, args.genre, args.timbre)
            for index in range(args.first, args.first + args.tracks)
        ]
        print(f"rendering {len(requests)} tracks of {args.seconds:g} s with {', '.join(s.name for s in soundfonts)} "
              f"into {args.out / args.split} ({args.jobs} processes)")
        return _render_all(requests, args.jobs)
    except StemdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _render_all(requests: list[TrackRequest], jobs: int) -> int:
    began = time.perf_counter()
    rendered = skipped = 0
    audio_seconds = 0.0
    # Spawned, not forked: each worker loads libfluidsynth and its SoundFont itself.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(render_track, request): request for request in requests}
        for done, future in enumerate(as_completed(futures), start=1):
            request = futures[future]
            result: TrackResult = future.result()
            if result.skipped:
                skipped += 1
                status = "already complete"
            else:
                rendered += 1
                audio_seconds += request.seconds
                status = f"{', '.join(result.classes)} in {result.seconds_rendered:.1f} s"
            print(f"[{done}/{len(requests)}] {request.name}: {status}", flush=True)
    elapsed = time.perf_counter() - began
    speed = f", {audio_seconds / elapsed:.1f} s of audio per second" if rendered else ""
    print(f"done: {rendered} rendered, {skipped} skipped in {elapsed:.1f} s{speed}")
    return 0
