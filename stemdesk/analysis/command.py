"""``stemdesk beats IN [--json OUT]``: the beat grid of a song, headless.

Prints a summary (tempo, meter, beat and bar counts) and, with ``--json``, writes
``{"bpm", "meter", "beats", "downbeats"}`` (seconds of song time) atomically. A
grid the user corrected in the window wins over the analysis, which is cached.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stemdesk.analysis.song_grid import song_grid
from stemdesk.audio import atomic_path, decode
from stemdesk.errors import StemdeskError


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Find the beats, bars, tempo and meter of a song.")
    parser.add_argument("song", type=Path, metavar="IN", help="audio file")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write beats and downbeats (seconds) to OUT")
    parser.add_argument("--ignore-corrections", action="store_true",
                        help="analyse afresh even if the grid was corrected in the window")
    return parser


def main(argv: list[str] | None = None, prog: str = "stemdesk beats") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        grid, corrected = song_grid(decode(args.song), use_corrections=not args.ignore_corrections)
        if args.json is not None:
            summary = {key: grid.to_dict()[key] for key in ("bpm", "meter", "beats", "downbeats")}
            with atomic_path(args.json) as temp:
                temp.write_text(json.dumps(summary, indent=1))
    except StemdeskError as error:
        print(f"stemdesk: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.song.name}: {grid.bpm:.1f} bpm, {grid.meter} beats a bar, {len(grid.beats)} beats, "
          f"{len(grid.downbeats)} bars{' (corrected grid)' if corrected else ''}")
    if args.json is not None:
        print(f"-> {args.json}")
    return 0
