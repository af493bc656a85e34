"""``stemdesk render IN -o OUT.wav``: the practice track, as the player would play it.

    stemdesk render IN -o OUT.wav [--model M] [--mute a,b] [--solo a] [--gain stem=dB]
                    [--tempo 0.8] [--transpose -2] [--click] [--click-db -6]
                    [--count-in BARS] [--start S --end E] [--device auto|cpu|gpu]

The song is separated by the model (or taken from the stem cache), mixed, stretched and
clicked by the same `RenderPipeline` the player's render thread runs, from ``--start``
(after the count-in, if asked) up to the song sample ``--end``. The beat grid for the
click and count-in is the song's from `stemdesk.analysis` (a grid the user corrected in
the window wins). The file is float WAV, written under a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, write_audio
from stemdesk.errors import StemdeskError
from stemdesk.playback.click import BeatGrid
from stemdesk.playback.mixer import Mixer, MixerState
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.practice import PracticeState
from stemdesk.playback.stretcher import MAX_CENTS, MAX_SEMITONES, MAX_TEMPO, MIN_TEMPO


def render_practice(
    stems: Mapping[str, Audio], state: MixerState, practice: PracticeState,
    grid: BeatGrid | None = None, start: int = 0, end: int | None = None,
) -> Audio:
    """The practice track of `stems` (one song: name -> Audio, same rate and length).

    state: the mix (its loop is ignored: a file has one pass); practice: tempo, transpose,
    click, count-in; grid: beats for the click and count-in; start, end: song samples
    [start, end) to play (end None: to the song's end). Returns float32 (channels, n) at
    the song's rate: the count-in (if set) and then the song, as the player plays it.

    Raises StemdeskError if tempo or transpose need the stretcher and it is not installed.
    """
    rates = {audio.rate for audio in stems.values()}
    if len(rates) != 1:
        raise ValueError(f"stems must share one rate, got {sorted(rates)}")
    mixer = Mixer({name: audio.samples for name, audio in stems.items()}, rates.pop())
    mixer.state = state.with_loop(None)
    end = mixer.length if end is None else end
    if not 0 <= start < end <= mixer.length:
        raise ValueError(f"range [{start}, {end}) is outside the song's {mixer.length} samples")
    pipeline = RenderPipeline(mixer, grid)
    try:
        pipeline.check_practice(practice)
        pipeline.practice = practice
        pipeline.start(start, count_in=practice.count_in_bars > 0)
        pieces = []
        while True:
            chunk = pipeline.render()
            past = np.flatnonzero(~chunk.counting & (chunk.positions >= end))
            if past.size:
                pieces.append(chunk.audio[:, : past[0]])
                break
            pieces.append(chunk.audio)
    finally:
        pipeline.close()
    return Audio(np.concatenate(pieces, axis=1), mixer.rate)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from stemdesk.separate import DEVICES

    parser = argparse.ArgumentParser(
        prog=prog, description="Render the practice track of a song: mix, tempo, transpose, click, count-in.")
    parser.add_argument("song", type=Path, metavar="IN", help="audio file")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav", help="float WAV to write")
    parser.add_argument("--model", help="model or preset id, or card path (default: the app's default model)")
    parser.add_argument("--mute", type=_names, default=[], help="comma-separated stems to mute")
    parser.add_argument("--solo", type=_names, default=[], help="comma-separated stems to solo")
    parser.add_argument("--gain", action="append", default=[], metavar="STEM=DB", help="a stem's fader in dB (repeatable)")
    parser.add_argument("--tempo", type=float, default=1.0, help=f"speed factor {MIN_TEMPO}-{MAX_TEMPO}, pitch kept (default 1)")
    parser.add_argument("--transpose", type=float, default=0.0,
                        help="semitones, fractions are cents (e.g. -2, 1.5), tempo kept")
    parser.add_argument("--click", action="store_true", help="a click on the song's beats")
    parser.add_argument("--click-db", type=float, default=-6.0, help="the click's level in dB (default -6)")
    parser.add_argument("--count-in", type=int, default=0, choices=(0, 1, 2), metavar="BARS", help="bars of count-in: 0, 1 or 2")
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="song second to start at")
    parser.add_argument("--end", type=float, metavar="E", help="song second to end at (default: the song's end)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    return parser


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: list[str] | None = None, prog: str = "stemdesk render") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        written = _render(args)
    except StemdeskError as error:
        print(f"stemdesk: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.song} -> {written}")
    return 0


def _render(args: argparse.Namespace) -> Path:
    practice = _practice(args)
    if args.output.suffix.lower() != ".wav":
        raise StemdeskError(f"cannot write '{args.output}': the practice track is a .wav file")
    from stemdesk.catalogue import Catalogue
    from stemdesk.session import decode_song, separate_song
    from stemdesk.stem_cache import StemCache

    song = decode_song(args.song)
    rate, duration = song.mixture.rate, song.mixture.duration
    end = duration if args.end is None else args.end
    if not 0 <= args.start < end <= duration:
        raise StemdeskError(f"--start {args.start:g} --end {end:g} is not a span of the song's {duration:.2f} s")
    catalogue = Catalogue()
    separator = catalogue.open(args.model or catalogue.default_model(), device=args.device)
    song = separate_song(song, separator, StemCache(), progress=_progress_bar(args.song.name))
    state = _mix_state(tuple(song.stems), args)
    grid = None
    if args.click or args.count_in:
        from stemdesk.analysis import song_grid

        found, _ = song_grid(song.mixture, song.stems, source=separator.card.identity)
        if args.click and len(found.beats) < 2:
            raise StemdeskError(f"found no beat in '{args.song}' to click on")
        grid = BeatGrid(found.beats, found.downbeats) if len(found.beats) >= 2 else None
    track = render_practice(song.stems, state, practice, grid,
                            int(round(args.start * rate)), int(round(end * rate)))
    return write_audio(args.output, track, "FLOAT")


def _practice(args: argparse.Namespace) -> PracticeState:
    if not MIN_TEMPO <= args.tempo <= MAX_TEMPO:
        raise StemdeskError(f"--tempo {args.tempo:g} is outside {MIN_TEMPO}-{MAX_TEMPO}")
    limit = MAX_SEMITONES + MAX_CENTS / 100.0
    if not abs(args.transpose) <= limit:
        raise StemdeskError(f"--transpose {args.transpose:g} is outside -{limit:g}..{limit:g} semitones")
    if not -60.0 <= args.click_db <= 12.0:
        raise StemdeskError(f"--click-db {args.click_db:g} is outside -60..12 dB")
    semitones = float(np.clip(round(args.transpose), -MAX_SEMITONES, MAX_SEMITONES))
    return PracticeState(tempo=args.tempo, semitones=semitones, cents=round((args.transpose - semitones) * 100, 6),
                         click_db=args.click_db, click_muted=not args.click, count_in_bars=args.count_in)


def _mix_state(stems: tuple[str, ...], args: argparse.Namespace) -> MixerState:
    state = MixerState.for_stems(stems)

    def known(name: str, option: str) -> str:
        if name not in stems:
            raise StemdeskError(f"{option} {name}: no such stem; this model gives {', '.join(stems)}")
        return name

    for name in args.mute:
        state = state.with_mute(known(name, "--mute"))
    for name in args.solo:
        state = state.with_solo(known(name, "--solo"))
    for item in args.gain:
        name, sep, db = item.partition("=")
        try:
            level = float(db)
        except ValueError:
            level = None
        if not sep or level is None or not np.isfinite(level):
            raise StemdeskError(f"--gain {item}: write it as STEM=DB, e.g. vocals=-6")
        state = state.with_gain(known(name.strip(), "--gain"), level)
    return state


def _progress_bar(name: str):
    from tqdm import tqdm

    bar = tqdm(desc=name, unit="chunk", leave=False, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress
