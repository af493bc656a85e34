"""Bass parts: how a bass player outlines each chord in a genre.

Styles: ``eighths`` (driving roots), ``with kick`` (roots where the kick plays),
``root fifth`` (half notes with a passing note into the next chord), ``funk``
(syncopated sixteenths, octave pops, dead notes), ``tumbao`` (latin anticipations),
``chugs`` (metal sixteenths under palm-muted guitars).
"""

from __future__ import annotations

import random

from stemdesk.training.synth.drums import Groove
from stemdesk.training.synth.form import BEATS_PER_BAR, Bar, Chart
from stemdesk.training.synth.humanise import BeatNote
from stemdesk.training.synth.theory import Chord

BASS_STYLES = ("eighths", "with kick", "root fifth", "funk", "tumbao", "chugs")

# E1 to B2: a four-string bass's home octave; octave pops reach up to B3.
_LOW, _HIGH = 28, 47


def bass_part(chart: Chart, style: str, groove: Groove, rng: random.Random) -> list[BeatNote]:
    """The bass line of ``chart`` in ``style`` (one of :data:`BASS_STYLES`)."""
    if style not in BASS_STYLES:
        raise ValueError(f"unknown bass style {style!r}; known: {', '.join(BASS_STYLES)}")
    notes: list[BeatNote] = []
    for index, bar in enumerate(chart.bars):
        following = chart.bars[index + 1].chords[0][2] if index + 1 < len(chart.bars) else bar.chords[0][2]
        if bar.energy == 0 and style != "root fifth":
            notes.extend(_held_roots(bar))
        else:
            notes.extend(_BAR_WRITERS[style](bar, following, groove, rng))
    return notes


def _root(chord: Chord) -> int:
    return _LOW + (chord.root - _LOW) % 12


def _fifth(chord: Chord) -> int:
    fifth = _LOW + (chord.fifth - _LOW) % 12
    return fifth if fifth <= _HIGH else fifth - 12


def _held_roots(bar: Bar) -> list[BeatNote]:
    return [BeatNote(bar.start + start, length, _root(chord), 78) for start, length, chord in bar.chords]


def _eighths(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    return [
        BeatNote(bar.start + step / 2, 0.45, _root(bar.chord_at(step / 2)), 100 if step % 2 == 0 else 84)
        for step in range(BEATS_PER_BAR * 2)
    ]


def _with_kick(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    onsets = groove.kick_offsets(bar.energy) or [0.0, 2.0]
    notes = []
    for number, onset in enumerate(onsets):
        until = onsets[number + 1] if number + 1 < len(onsets) else BEATS_PER_BAR
        chord = bar.chord_at(onset)
        pitch = _root(chord) if rng.random() < 0.8 else _fifth(chord)
        notes.append(BeatNote(bar.start + onset, max(until - onset, 0.25) * 0.9, pitch, 98))
    return notes


def _root_fifth(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    chord = bar.chord_at(0)
    notes = [BeatNote(bar.start, 1.9, _root(chord), 92)]
    if rng.random() < 0.6 or bar.energy == 0:
        notes.append(BeatNote(bar.start + 2, 1.4, _fifth(bar.chord_at(2)), 84))
    if rng.random() < 0.5:
        # A chromatic or scale step into the next bar's root.
        target = _root(following)
        notes.append(BeatNote(bar.start + 3.5, 0.45, target + rng.choice((-1, 1, -2, 2)), 80))
    return notes


def _funk(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    notes = []
    for step in range(16):
        chord = bar.chord_at(step / 4)
        if step == 0:
            notes.append(BeatNote(bar.start, 0.4, _root(chord), 112))
        elif step in (3, 6, 10, 14) and rng.random() < 0.75:
            pitch = _root(chord) + (12 if rng.random() < 0.5 else 0)
            notes.append(BeatNote(bar.start + step / 4, 0.2, pitch, 104))
        elif step % 2 == 1 and rng.random() < 0.25:
            # A dead note: short and soft, more thump than pitch.
            notes.append(BeatNote(bar.start + step / 4, 0.08, _root(chord), 44))
    return notes


def _tumbao(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    chord = bar.chord_at(0)
    return [
        BeatNote(bar.start, 1.4, _root(chord), 100),
        BeatNote(bar.start + 1.5, 0.45, _fifth(chord), 86),
        BeatNote(bar.start + 2, 1.4, _root(bar.chord_at(2)), 94),
        # The anticipation: the next bar's root arrives half a beat early.
        BeatNote(bar.start + 3.5, 0.5, _root(following), 90),
    ]


def _chugs(bar: Bar, following: Chord, groove: Groove, rng: random.Random) -> list[BeatNote]:
    step_beats = 0.25 if bar.energy == 2 else 0.5
    count = int(BEATS_PER_BAR / step_beats)
    return [
        BeatNote(bar.start + step * step_beats, step_beats * 0.8, _root(bar.chord_at(step * step_beats)),
                 108 if step % 4 == 0 else 92)
        for step in range(count)
    ]


_BAR_WRITERS = {
    "eighths": _eighths, "with kick": _with_kick, "root fifth": _root_fifth, "funk": _funk,
    "tumbao": _tumbao, "chugs": _chugs,
}
