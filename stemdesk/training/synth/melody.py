"""Lead lines: sung-like melodies for synth leads, horns, flutes, violins and solo guitars.

Four-bar phrases in call-and-answer form: a rhythm cell, the same cell again, then a
cadence cell ending on a long note. Pitches walk the scale mostly by step and land on
chord tones on strong beats, which is what makes a random line sound like a tune.
"""

from __future__ import annotations

import random

from stemdesk.training.synth.form import Chart
from stemdesk.training.synth.humanise import BeatNote
from stemdesk.training.synth.theory import scale_pitches

# One bar each: (beat offset, length).
_CELLS = (
    ((0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 2.0)),
    ((0.0, 0.5), (0.5, 0.5), (1.0, 1.0), (2.5, 0.5), (3.0, 1.0)),
    ((0.5, 0.5), (1.0, 0.5), (1.5, 0.5), (2.0, 1.5)),
    ((0.0, 1.5), (1.5, 0.5), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0)),
    ((0.0, 0.25), (0.25, 0.25), (0.5, 0.5), (1.0, 1.0), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0)),
)
_CADENCES = (((0.0, 1.0), (1.0, 3.0)), ((0.0, 0.5), (0.5, 0.5), (1.0, 3.0)), ((0.0, 2.0), (2.0, 2.0)))


def lead_part(chart: Chart, rng: random.Random, low: int, high: int, scale: str) -> list[BeatNote]:
    """A melody for ``chart`` between pitches ``low`` and ``high`` on ``scale`` (a name in
    :data:`~stemdesk.training.synth.theory.SCALES`) built on the song's tonic.

    Plays in choruses and solos, in half of the verse phrases, never in intros/outros.
    """
    pitches = scale_pitches(chart.key, scale, low, high)
    position = len(pitches) // 2
    call, answer = rng.choice(_CELLS), rng.choice(_CADENCES)
    notes, resting = [], True
    for bar in chart.bars:
        phrase_bar = bar.index_in_section % 4
        if phrase_bar == 0:
            call = rng.choice(_CELLS) if rng.random() < 0.4 else call
            resting = bar.energy == 0 or (bar.energy == 1 and rng.random() < 0.5)
        if resting:
            continue
        cell = answer if phrase_bar == 3 else call
        for offset, length in cell:
            position = _step(position, rng, len(pitches))
            if offset % 2 == 0:
                position = _nearest_chord_tone(pitches, position, bar.chord_at(offset).pitch_classes)
            velocity = (0, 88, 100)[bar.energy] + (8 if offset % 1 == 0 else 0)
            notes.append(BeatNote(bar.start + offset, length * 0.95, pitches[position], velocity))
    return notes


def _step(position: int, rng: random.Random, count: int) -> int:
    """Move along the scale: mostly steps, some thirds, rarely a leap; bounce off the range."""
    move = rng.choices((-1, 1, -2, 2, -4, 4, 0), weights=(5, 5, 2, 2, 1, 1, 1))[0]
    position += move
    if position < 0 or position >= count:
        position -= 2 * move
    return min(max(position, 0), count - 1)


def _nearest_chord_tone(pitches: list[int], position: int, chord_tones: tuple[int, ...]) -> int:
    candidates = [index for index, pitch in enumerate(pitches) if pitch % 12 in chord_tones]
    return min(candidates, key=lambda index: abs(index - position)) if candidates else position
