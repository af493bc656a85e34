"""Labelled metronome tracks for the beat network: the accented click is a downbeat.

    python -m stemdesk.training.beat_clicks OUT --tracks 40 --seed 0

Each track is 30 s of clicks at a random tempo (50-200 bpm) in 2, 3 or 4, a random
start, click pitches, lengths and accent (the downbeat 3-10 dB louder and higher or
lower), sometimes under noise. Writes ``OUT/<name>/mixture.wav`` and ``beats.json``
in the layout :mod:`stemdesk.training.beat_net` reads. The synth's songs carry no
metronome, so without these the network would not know that an accent marks the bar.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, write_audio

RATE = 44100
SECONDS = 30.0


def click_track(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Mono samples ``(samples,)`` and the labels of one random metronome track."""
    bpm = float(np.exp(rng.uniform(np.log(50), np.log(200))))
    meter = int(rng.choice([2, 3, 4, 4]))
    period = 60.0 / bpm
    start = rng.uniform(0.0, 2.0)
    times = np.arange(start, SECONDS - 0.1, period)
    length = int(rng.uniform(0.01, 0.06) * RATE)
    t = np.arange(length) / RATE
    pitch = rng.uniform(600, 2500)
    accent_pitch = pitch * rng.choice([0.5, 0.75, 1.0, 1.5, 2.0])
    accent_gain = 10 ** (rng.uniform(3, 10) / 20)
    decay = rng.uniform(0.003, 0.02)
    samples = np.zeros(int(SECONDS * RATE), np.float32)
    for number, time in enumerate(times):
        down = number % meter == 0
        gain = 0.25 * (accent_gain if down else 1.0) * rng.uniform(0.9, 1.1)
        click = gain * np.exp(-t / decay) * np.sin(2 * np.pi * (accent_pitch if down else pitch) * t)
        first = int(round(time * RATE))
        samples[first : first + length] += click[: len(samples) - first]
    if rng.random() < 0.5:
        samples += rng.normal(0, 10 ** (rng.uniform(-50, -25) / 20), samples.shape).astype(np.float32)
    labels = {"bpm": round(bpm, 3), "meter": meter, "beats": times.round(5).tolist(),
              "downbeats": times[::meter].round(5).tolist()}
    return samples, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tracks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for index in range(args.tracks):
        samples, labels = click_track(rng)
        folder = args.out / f"click-{args.seed}-{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_audio(folder / "mixture.wav", Audio(np.stack([samples, samples]), RATE), "FLOAT")
        (folder / "beats.json").write_text(json.dumps(labels))
    print(f"{args.tracks} click tracks in {args.out}")


if __name__ == "__main__":
    main()
