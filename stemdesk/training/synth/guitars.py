"""Guitar parts, written the way the instrument is played: shapes on six strings, strums,
picked arpeggios, power chords, palm mutes, riffs, funk chops and bachata requinto runs.

Voicings come from the fretboard (standard tuning, one note per string within a
four-fret hand position), so chords have the guitar's own spacing, not a keyboard's.
"""

from __future__ import annotations

import random

from stemdesk.training.synth.form import BEATS_PER_BAR, Chart
from stemdesk.training.synth.humanise import BeatNote
from stemdesk.training.synth.theory import (
    SCALES,
    Chord,
    pitches_in_range,
    scale_pitches,
)

GUITAR_STYLES = ("strummed", "arpeggiated", "power chords", "palm muted", "riff", "funk chops", "requinto")

STANDARD_TUNING = (40, 45, 50, 55, 59, 64)

# Strum patterns on the eighth-note grid: D down, U up, . nothing.
_STRUMS = ("D.DU.UDU", "D.D.D.DU", "D..D..D.", "D.DUDUDU", "D...D.DU")
# Which string of the voicing each eighth note picks (indices past the top wrap round).
_ARPEGGIOS = ((0, 2, 3, 4, 5, 4, 3, 2), (0, 3, 2, 3, 4, 3, 2, 3), (0, 2, 4, 2, 1, 3, 5, 3), (0, 1, 2, 3, 4, 5, 4, 3))
_CHOPS = ("x.x.X.x..x.xX.x.", "..x...X...x.X...", "x..xX..x.x..X.xo", ".xo.Xox..xo.X.o.")


def guitar_part(chart: Chart, style: str, rng: random.Random) -> list[BeatNote]:
    """The guitar part of ``chart`` in ``style`` (one of :data:`GUITAR_STYLES`)."""
    writers = {
        "strummed": _strummed, "arpeggiated": _arpeggiated, "power chords": _power_chords,
        "palm muted": _palm_muted, "riff": _riff, "funk chops": _funk_chops, "requinto": _requinto,
    }
    if style not in writers:
        raise ValueError(f"unknown guitar style {style!r}; known: {', '.join(GUITAR_STYLES)}")
    return writers[style](chart, rng)


def fretboard_voicing(chord: Chord, position: int) -> list[int]:
    """A chord shape in the hand position starting at fret ``position`` (0 = open strings).

    Returns ascending pitches, at most one per string, the lowest being the root; strings
    with no chord tone under the hand are left out (muted).
    """
    pitches: list[int] = []
    for open_pitch in STANDARD_TUNING:
        frets = range(position, position + 5) if position > 0 else range(4)
        candidates = [open_pitch + fret for fret in frets if (open_pitch + fret) % 12 in chord.pitch_classes]
        if not pitches:
            candidates = [pitch for pitch in candidates if pitch % 12 == chord.root]
        candidates = [pitch for pitch in candidates if not pitches or pitch > pitches[-1]]
        if candidates:
            pitches.append(candidates[0])
    return pitches


def _strum(start: float, voicing: list[int], down: bool, velocity: float, length: float, spread: float) -> list[BeatNote]:
    """One strum: the strings struck ``spread`` beats apart, low to high (down) or high to low (up)."""
    strings = voicing if down else voicing[::-1][:4]
    return [
        BeatNote(start + index * spread, max(length - index * spread, 0.1), pitch, velocity * (1 if down else 0.8))
        for index, pitch in enumerate(strings)
    ]


def _strummed(chart: Chart, rng: random.Random) -> list[BeatNote]:
    position = rng.choice((0, 0, 3, 5))
    pattern = rng.choice(_STRUMS)
    # About 20 ms between strings, whatever the tempo.
    spread = 0.02 * chart.tempo / 60
    notes = []
    for bar in chart.bars:
        hits = [step for step, mark in enumerate(pattern) if mark != "."] if bar.energy else [0, 4]
        for number, step in enumerate(hits):
            until = hits[number + 1] if number + 1 < len(hits) else 8
            offset = step / 2
            voicing = fretboard_voicing(bar.chord_at(offset), position)
            down = bar.energy == 0 or pattern[step] == "D"
            velocity = (72, 88, 100)[bar.energy] + (8 if step % 4 == 0 else 0)
            notes.extend(_strum(bar.start + offset, voicing, down, velocity, (until - step) / 2, spread))
    return notes


def _arpeggiated(chart: Chart, rng: random.Random) -> list[BeatNote]:
    position = rng.choice((0, 2, 5, 7))
    order = rng.choice(_ARPEGGIOS)
    ring = rng.choice((1.0, 1.5, 2.0))
    notes = []
    for bar in chart.bars:
        for step in range(8):
            voicing = fretboard_voicing(bar.chord_at(step / 2), position)
            pitch = voicing[order[step] % len(voicing)]
            velocity = (66, 80, 92)[bar.energy] + (10 if step == 0 else 0)
            notes.append(BeatNote(bar.start + step / 2, ring, pitch, velocity))
    return notes


def _power_chord(chord: Chord, with_octave: bool) -> list[int]:
    root = 40 + (chord.root - 40) % 12
    return [root, root + 7] + ([root + 12] if with_octave else [])


def _power_chords(chart: Chart, rng: random.Random) -> list[BeatNote]:
    with_octave = rng.random() < 0.6
    notes = []
    for bar in chart.bars:
        if bar.energy == 2:
            hits = [(step / 2, 0.45) for step in range(8)]
        elif bar.energy == 1:
            hits = [(0.0, 1.9), (2.0, 1.4), (3.5, 0.45)]
        else:
            hits = [(0.0, 3.9)]
        for offset, length in hits:
            for pitch in _power_chord(bar.chord_at(offset), with_octave):
                notes.append(BeatNote(bar.start + offset, length, pitch, 104 if offset % 1 == 0 else 92))
    return notes


def _palm_muted(chart: Chart, rng: random.Random) -> list[BeatNote]:
    """Short low notes (the palm damps the strings at the bridge); choruses open up into
    ringing power chords, the way rock and metal songs lift."""
    sixteenths = rng.random() < 0.4
    notes = []
    for bar in chart.bars:
        if bar.energy == 2 and rng.random() < 0.7:
            for offset, length in ((0.0, 1.9), (2.0, 1.9)):
                notes.extend(BeatNote(bar.start + offset, length, pitch, 108)
                             for pitch in _power_chord(bar.chord_at(offset), True))
            continue
        step = 0.25 if sixteenths else 0.5
        for index in range(int(BEATS_PER_BAR / step)):
            offset = index * step
            root, fifth = _power_chord(bar.chord_at(offset), False)
            accent = index % 4 == 0
            notes.append(BeatNote(bar.start + offset, step * 0.45, root, 104 if accent else 86))
            if accent:
                notes.append(BeatNote(bar.start + offset, step * 0.45, fifth, 96))
    return notes


def _riff_motif(rng: random.Random) -> list[tuple[float, float, int]]:
    """A one-bar riff: (beat offset, length, minor-pentatonic step above the chord root)."""
    motif, offset = [], 0.0
    while offset < BEATS_PER_BAR:
        length = rng.choice((0.5, 0.5, 0.25, 1.0))
        if offset == 0 or rng.random() < 0.8:
            motif.append((offset, length, 0 if offset == 0 else rng.choice((0, 0, 1, 2, 3, 4, 5))))
        offset += length
    return motif


def _riff(chart: Chart, rng: random.Random) -> list[BeatNote]:
    motif = _riff_motif(rng)
    answer = _riff_motif(rng)
    pentatonic = SCALES["minor pentatonic"]
    notes = []
    for bar in chart.bars:
        phrase = answer if bar.index_in_section % 4 == 3 else motif
        for offset, length, step in phrase:
            root = 40 + (bar.chord_at(offset).root - 40) % 12
            pitch = root + pentatonic[step % 5] + 12 * (step // 5)
            notes.append(BeatNote(bar.start + offset, length * 0.9, pitch, 100 if offset % 1 == 0 else 88))
    return notes


def _funk_chops(chart: Chart, rng: random.Random) -> list[BeatNote]:
    pattern = rng.choice(_CHOPS)
    position = rng.choice((5, 7, 8))
    notes = []
    for bar in chart.bars:
        for step, mark in enumerate(pattern):
            if mark == "." or (bar.energy == 0 and step % 4):
                continue
            offset = step / 4
            # The top three or four strings only: funk chords sit high and small.
            voicing = fretboard_voicing(bar.chord_at(offset), position)[-rng.choice((3, 4)):]
            length, velocity = ((0.08, 40) if mark == "o" else (0.18, 112 if mark == "X" else 92))
            notes.extend(BeatNote(bar.start + offset + index * 0.01, length, pitch, velocity)
                         for index, pitch in enumerate(voicing))
    return notes


def _requinto(chart: Chart, rng: random.Random) -> list[BeatNote]:
    """Bachata lead guitar: quick sixteenth runs over the chord in the high register,
    each ending on a held chord tone; every other bar answers with a short turn or rests."""
    scale = scale_pitches(chart.key, "harmonic minor" if chart.key.mode == "minor" else "major", 62, 88)
    notes = []
    for bar in chart.bars:
        chord = bar.chord_at(0)
        tones = pitches_in_range(chord.pitch_classes, 64, 86)
        if bar.index_in_section % 2 == 0:
            count = rng.choice((8, 10, 12))
            start = min(rng.choice((0.0, 0.5, 1.0)), 3.5 - count / 4)
            index = rng.randrange(len(scale) - count) if len(scale) > count else 0
            direction = rng.choice((1, -1))
            run = scale[index : index + count][::direction]
            for number, pitch in enumerate(run):
                notes.append(BeatNote(bar.start + start + number / 4, 0.3, pitch, 92 + (10 if number % 4 == 0 else 0)))
            landing = min(tones, key=lambda tone: abs(tone - run[-1]))
            notes.append(BeatNote(bar.start + start + count / 4, max(3.9 - start - count / 4, 0.5), landing, 100))
        elif rng.random() < 0.7:
            top = rng.choice(tones[-4:])
            for number, pitch in enumerate((top, top - 1 if top - 1 in scale else top - 2, top)):
                notes.append(BeatNote(bar.start + 2 + number / 4, 0.3 if number < 2 else 1.4, pitch, 90))
    return notes
