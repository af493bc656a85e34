"""Test signals with known beats: click tracks and tones that start and stop."""

from __future__ import annotations

import numpy as np

from stemdesk.audio import Audio

RATE = 44100


def click_track(bpm: float, seconds: float, meter: int = 4, start: float = 0.5, accented: bool = True,
                rate: int = RATE, end_bpm: float | None = None) -> tuple[Audio, np.ndarray]:
    """A stereo metronome and its beat times (s): 30 ms decaying sine clicks, the
    downbeat (every ``meter``-th click from the first) higher and louder when ``accented``.
    With ``end_bpm`` the tempo changes steadily from ``bpm`` to it over the track."""
    times = [start]
    while True:
        tempo = bpm if end_bpm is None else bpm + (end_bpm - bpm) * times[-1] / seconds
        if times[-1] + 60.0 / tempo >= seconds - 0.05:
            break
        times.append(times[-1] + 60.0 / tempo)
    times = np.array(times)
    samples = np.zeros(int(seconds * rate), np.float32)
    length = int(0.03 * rate)
    t = np.arange(length) / rate
    for number, time in enumerate(times):
        downbeat = accented and number % meter == 0
        click = (0.8 if downbeat else 0.35) * np.exp(-t / 0.005) * np.sin(2 * np.pi * (1600 if downbeat else 1000) * t)
        first = int(round(time * rate))
        samples[first : first + length] += click[: len(samples) - first]
    return Audio(np.stack([samples, samples]), rate), times


def tone_bursts(spans: list[tuple[float, float]], seconds: float, level_db: float = -12.0,
                rate: int = RATE) -> Audio:
    """A 220 Hz tone sounding in ``spans`` (s), silent elsewhere, mono."""
    t = np.arange(int(seconds * rate)) / rate
    on = np.zeros_like(t, dtype=bool)
    for start, end in spans:
        on |= (t >= start) & (t < end)
    tone = 10 ** (level_db / 20) * np.sqrt(2) * np.sin(2 * np.pi * 220 * t) * on
    return Audio(tone[None, :].astype(np.float32), rate)
