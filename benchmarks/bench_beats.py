"""Time the beat analysis of a 4-minute song (target: under 5 s on the build machine).

    python benchmarks/bench_beats.py [SONG] [--stems DIR]

Without SONG, the bundled demo song tiled to 4 minutes (44.1 kHz stereo). With
``--stems DIR``, ``DIR/drums.wav`` and ``DIR/bass.wav`` are passed in as a model's
stems would be. Prints, side by side in one run: the first analysis in this
process (it includes numba's JIT compilation of librosa's spectrogram code, or loading it
from numba's cache), the median of three warm runs, and librosa's plain
``beat_track`` on the same audio; each with its ratio to the song's length.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import librosa
import numpy as np

from stemdesk.analysis import analyse_beats
from stemdesk.analysis.features import RATE, mono
from stemdesk.audio import Audio, decode
from stemdesk.cli import DEMO_SONG

SECONDS = 240.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("song", nargs="?", type=Path)
    parser.add_argument("--stems", type=Path, help="folder with drums.wav and bass.wav")
    args = parser.parse_args()
    if args.song:
        audio = decode(args.song)
    else:
        demo = decode(DEMO_SONG)
        repeats = int(np.ceil(SECONDS * demo.rate / demo.num_samples))
        audio = Audio(np.tile(demo.samples, repeats)[:, : int(SECONDS * demo.rate)], demo.rate)
    stems = {name: decode(args.stems / f"{name}.wav") for name in ("drums", "bass")} if args.stems else None
    length = audio.num_samples / audio.rate
    print(f"song: {args.song or DEMO_SONG.name + ' tiled'}, {length:.0f} s, {audio.rate} Hz, "
          f"{audio.channels} channels{', with drums and bass stems' if stems else ''}")

    began = time.perf_counter()
    grid = analyse_beats(audio, stems)
    first = time.perf_counter() - began
    warm = []
    for _ in range(3):
        began = time.perf_counter()
        analyse_beats(audio, stems)
        warm.append(time.perf_counter() - began)
    began = time.perf_counter()
    librosa.beat.beat_track(y=mono(audio), sr=RATE)
    plain = time.perf_counter() - began

    print(f"found {grid.bpm:.1f} bpm, meter {grid.meter}, {len(grid.beats)} beats, {len(grid.downbeats)} bars")
    for name, seconds in (("analyse_beats, first call", first), ("analyse_beats, warm (median of 3)", float(np.median(warm))),
                          ("librosa beat_track alone", plain)):
        print(f"{name:<36} {seconds:6.2f} s   {seconds / length:.4f} x song length")


if __name__ == "__main__":
    main()
