"""Chordal parts for keyboards, strings, pads and horns: voice-led chords in a rhythm.

Styles: ``block chords`` (piano or keys: left-hand root plus a right-hand chord on a
rhythm), ``broken chords`` (ballad arpeggios across two octaves), ``montuno`` (latin
piano: syncopated octave-doubled chord tones), ``stabs`` (short accented hits: funk
keys, brass section), ``sustained`` (organ, strings, pads: held, smoothly voice-led).
"""

from __future__ import annotations

import random

from stemdesk.training.synth.form import Chart
from stemdesk.training.synth.humanise import BeatNote
from stemdesk.training.synth.theory import nearest_pitch, voice_lead

ACCOMPANIMENT_STYLES = ("block chords", "broken chords", "montuno", "stabs", "sustained")

# Piano rhythms: (beat offset, length) per bar.
_BLOCK_RHYTHMS = (
    ((0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)),
    ((0.0, 1.4), (1.5, 1.0), (3.0, 1.0)),
    ((0.0, 0.9), (1.5, 0.9), (2.5, 0.5), (3.0, 0.9)),
    ((0.0, 1.9), (2.0, 1.9)),
)
_STAB_RHYTHMS = (
    ((0.75, 0.2), (1.5, 0.2), (3.0, 0.3)),
    ((0.0, 0.2), (0.75, 0.2), (2.5, 0.2), (3.25, 0.2)),
    ((1.0, 0.3), (2.75, 0.2), (3.5, 0.4)),
)
_MONTUNO = (0.0, 0.5, 1.5, 2.0, 3.0, 3.5)


def accompaniment_part(chart: Chart, style: str, rng: random.Random, around: int = 64, size: int = 3) -> list[BeatNote]:
    """A chordal part of ``chart`` in ``style``, its chords voiced near pitch ``around``
    with ``size`` notes (the piano's left hand and octave doublings come on top)."""
    writers = {
        "block chords": _block_chords, "broken chords": _broken_chords, "montuno": _montuno,
        "stabs": _stabs, "sustained": _sustained,
    }
    if style not in writers:
        raise ValueError(f"unknown accompaniment style {style!r}; known: {', '.join(ACCOMPANIMENT_STYLES)}")
    return writers[style](chart, rng, around, size)


def _block_chords(chart: Chart, rng: random.Random, around: int, size: int) -> list[BeatNote]:
    rhythm = rng.choice(_BLOCK_RHYTHMS)
    notes, voicing = [], None
    for bar in chart.bars:
        hits = rhythm if bar.energy else ((0.0, 3.9),)
        for offset, length in hits:
            chord = bar.chord_at(offset)
            voicing = voice_lead(voicing, chord, around, size)
            velocity = (64, 80, 94)[bar.energy] + (8 if offset == 0 else 0)
            notes.extend(BeatNote(bar.start + offset, length, pitch, velocity) for pitch in voicing)
            if offset == 0 or length > 1.5:
                notes.append(BeatNote(bar.start + offset, length, nearest_pitch(chord.root, around - 24), velocity))
    return notes


def _broken_chords(chart: Chart, rng: random.Random, around: int, size: int) -> list[BeatNote]:
    """Bass note, then up and down the chord, in eighths or (for a 12/8 feel) triplets."""
    step = 0.5 if rng.random() < 0.6 else 1 / 3
    notes, voicing, figure, current = [], None, [], None
    for bar in chart.bars:
        position, index = 0.0, 0
        while position < 4 - 1e-6:
            chord = bar.chord_at(position)
            if chord != current:
                voicing = voice_lead(voicing, chord, around, size)
                figure = [nearest_pitch(chord.root, around - 19), *voicing, *voicing[-2:0:-1]]
                current, index = chord, 0
            velocity = (58, 70, 80)[bar.energy] + (10 if index == 0 else 0)
            notes.append(BeatNote(bar.start + position, 1.5, figure[index % len(figure)], velocity))
            position += step
            index += 1
    return notes


def _montuno(chart: Chart, rng: random.Random, around: int, size: int) -> list[BeatNote]:
    notes, voicing = [], None
    for bar in chart.bars:
        for number, offset in enumerate(_MONTUNO):
            voicing = voice_lead(voicing, bar.chord_at(offset), around, size)
            # Montunos alternate the top note and the chord under it, both hands in octaves.
            pitches = [voicing[-1], voicing[-1] - 12] if number % 2 == 0 else voicing[:-1]
            velocity = (70, 86, 96)[bar.energy]
            notes.extend(BeatNote(bar.start + offset, 0.4, pitch, velocity) for pitch in pitches)
    return notes


def _stabs(chart: Chart, rng: random.Random, around: int, size: int) -> list[BeatNote]:
    rhythm = rng.choice(_STAB_RHYTHMS)
    notes, voicing = [], None
    for bar in chart.bars:
        if bar.energy == 0:
            continue
        for offset, length in rhythm:
            voicing = voice_lead(voicing, bar.chord_at(offset), around, size)
            velocity = (0, 96, 110)[bar.energy]
            notes.extend(BeatNote(bar.start + offset, length, pitch, velocity) for pitch in voicing)
    return notes


def _sustained(chart: Chart, rng: random.Random, around: int, size: int) -> list[BeatNote]:
    notes, voicing = [], None
    for bar in chart.bars:
        for offset, length, chord in bar.chords:
            voicing = voice_lead(voicing, chord, around, size)
            velocity = (60, 72, 86)[bar.energy]
            # A hair longer than the chord: strings and pads overlap into the next one.
            notes.extend(BeatNote(bar.start + offset, length + 0.1, pitch, velocity) for pitch in voicing)
    return notes
