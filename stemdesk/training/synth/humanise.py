"""From a part written on the beat grid to notes in seconds, played like a person would.

Generators write :class:`BeatNote` s (positions in beats, exact); :func:`perform` swings
the off-beat sixteenths, pushes or drags the whole part a little, jitters every onset
and velocity, and converts beats to seconds. Without this every synthetic stem would be
quantised to the sample, which no real recording is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from stemdesk.training.synth.song import Note


@dataclass(frozen=True)
class BeatNote:
    """A note on the grid: start and length in beats, MIDI pitch, velocity (clamped later)."""

    start: float
    length: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class Feel:
    """How a part is played: swing of off-beat sixteenths (0 straight, 1/3 triplet feel),
    a constant offset in ms (positive = laid back), onset jitter (standard deviation, ms)
    and velocity jitter (standard deviation, MIDI steps)."""

    swing: float = 0.0
    offset_ms: float = 0.0
    timing_ms: float = 8.0
    velocity_spread: float = 6.0


def perform(notes: list[BeatNote], tempo: float, feel: Feel, rng: random.Random, end: float) -> list[Note]:
    """Notes in seconds from grid notes at ``tempo`` (quarter notes per minute).

    Notes starting at or after ``end`` seconds are dropped; the others keep their
    length (a note may ring past ``end``: the renderer cuts the audio there).
    Returns the notes sorted by time.
    """
    seconds_per_beat = 60.0 / tempo
    played = []
    for note in notes:
        start_beat = _swung(note.start, feel.swing)
        start = start_beat * seconds_per_beat + (feel.offset_ms + rng.gauss(0.0, feel.timing_ms)) / 1000
        start = max(start, 0.0)
        if start >= end:
            continue
        duration = max(note.length * seconds_per_beat * rng.uniform(0.9, 1.0), 0.02)
        velocity = round(note.velocity + rng.gauss(0.0, feel.velocity_spread))
        played.append(Note(start, duration, note.pitch, min(max(velocity, 1), 127)))
    played.sort(key=lambda note: (note.time, note.pitch))
    return played


def _swung(beat: float, swing: float) -> float:
    """Delay off-beat sixteenths by ``swing`` of a sixteenth (a shuffle feel)."""
    sixteenth = beat * 4
    if swing and abs(sixteenth - round(sixteenth)) < 1e-6 and round(sixteenth) % 2 == 1:
        return beat + swing * 0.25
    return beat
