"""Write accented click tracks with their beat labels, for ``benchmarks/eval_beats.py``.

    python benchmarks/render_click_tracks.py OUT

Tracks at 60-180 bpm in 4/4 and 3/4 (30 s), one at 120.84 bpm (0.7 % above 120) for two
minutes, and one speeding up from 100 to 112 bpm over a minute; 44.1 kHz, 30 ms sine
clicks, the downbeat higher and louder. Writes ``OUT/<name>/mixture.wav`` and ``beats.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, write_audio

RATE = 44100
TRACKS = [(bpm, bpm, meter, 30.0) for bpm, meter in ((60, 4), (80, 3), (90, 4), (110, 3), (120, 4), (133, 4),
                                                    (150, 3), (165, 4), (180, 4))]
TRACKS += [(120.84, 120.84, 4, 120.0), (100.0, 112.0, 4, 60.0)]


def click_track(bpm: float, end_bpm: float, meter: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Mono samples and beat times of clicks from 0.5 s, the tempo moving linearly from ``bpm`` to ``end_bpm``."""
    times = [0.5]
    while times[-1] + 60.0 / (bpm + (end_bpm - bpm) * times[-1] / seconds) < seconds - 0.05:
        times.append(times[-1] + 60.0 / (bpm + (end_bpm - bpm) * times[-1] / seconds))
    samples = np.zeros(int(seconds * RATE), np.float32)
    t = np.arange(int(0.03 * RATE)) / RATE
    for number, time in enumerate(times):
        down = number % meter == 0
        click = (0.8 if down else 0.35) * np.exp(-t / 0.005) * np.sin(2 * np.pi * (1600 if down else 1000) * t)
        first = int(round(time * RATE))
        samples[first : first + len(t)] += click[: len(samples) - first]
    return samples, np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    for bpm, end_bpm, meter, seconds in TRACKS:
        samples, times = click_track(bpm, end_bpm, meter, seconds)
        folder = args.out / f"click-{bpm:g}-{end_bpm:g}-{meter}"
        folder.mkdir(parents=True, exist_ok=True)
        write_audio(folder / "mixture.wav", Audio(np.stack([samples, samples]), RATE), "FLOAT")
        labels = {"bpm": float(np.round(60.0 / np.median(np.diff(times)), 3)), "meter": meter,
                  "beats": times.round(5).tolist(), "downbeats": times[::meter].round(5).tolist()}
        (folder / "beats.json").write_text(json.dumps(labels))
    print(f"{len(TRACKS)} click tracks in {args.out}")


if __name__ == "__main__":
    main()
