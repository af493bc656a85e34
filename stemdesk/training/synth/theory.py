"""Just enough music theory for the arranger: keys, scales, chords from roman numerals, voicings.

Pitches are MIDI numbers (60 = middle C); pitch classes are 0-11 with 0 = C.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}

#: Chord qualities as semitones above the root.
QUALITIES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "5": (0, 7),
}

_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^(b|#)?(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(maj7|7|dim|sus2|sus4|5)?$")


@dataclass(frozen=True)
class Key:
    """A tonic pitch class and a mode ("major" or "minor")."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class Chord:
    """A root pitch class and a quality from :data:`QUALITIES`."""

    root: int
    quality: str

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + interval) % 12 for interval in self.intervals)

    @property
    def fifth(self) -> int:
        """Pitch class of the fifth (diminished in a dim chord)."""
        return (self.root + self.intervals[-1 if self.quality == "5" else 2]) % 12

    @property
    def name(self) -> str:
        suffix = {"maj": "", "min": "m", "min7": "m7"}.get(self.quality, self.quality)
        return NOTE_NAMES[self.root] + suffix


def chord_of_numeral(numeral: str, key: Key) -> Chord:
    """The chord a roman numeral names in ``key``: upper case major, lower case minor.

    Degrees count from the tonic of the major scale whatever the mode ("bVII" in A minor
    is G), so minor-key progressions spell their flats: "i bVI bIII bVII".
    A suffix (7, maj7, dim, sus2, sus4, 5) sets the quality; "7" on a lower-case numeral
    is a minor seventh chord.
    """
    match = _NUMERAL.match(numeral)
    if match is None:
        raise ValueError(f"not a roman numeral chord: {numeral!r}")
    accidental, degree, suffix = match.groups()
    shift = {"b": -1, "#": 1, None: 0}[accidental]
    root = (key.tonic + _DEGREES[degree.upper()] + shift) % 12
    minor = degree.islower()
    if suffix is None:
        quality = "min" if minor else "maj"
    elif suffix == "7":
        quality = "min7" if minor else "7"
    else:
        quality = suffix
    return Chord(root, quality)


def pitches_in_range(pitch_classes: tuple[int, ...], low: int, high: int) -> list[int]:
    """Every MIDI pitch in ``[low, high]`` whose pitch class is one of ``pitch_classes``, ascending."""
    wanted = set(pitch_classes)
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in wanted]


def nearest_pitch(pitch_class: int, around: int) -> int:
    """The pitch of ``pitch_class`` closest to ``around`` (ties go down)."""
    below = around - (around - pitch_class) % 12
    return below if around - below <= below + 12 - around else below + 12


def close_voicing(chord: Chord, around: int, size: int = 3) -> list[int]:
    """``size`` chord tones stacked upwards from the chord tone nearest ``around``.

    Used by keyboards, strings and pads; which inversion comes out depends on
    ``around``, which is how :func:`voice_lead` moves smoothly.
    """
    tones = pitches_in_range(chord.pitch_classes, around - 12, around + 24)
    start = min(range(len(tones)), key=lambda index: abs(tones[index] - around))
    return tones[start : start + size]


def voice_lead(previous: list[int] | None, chord: Chord, around: int, size: int = 3) -> list[int]:
    """The close voicing of ``chord`` that moves least from ``previous`` (the voicing before).

    Candidates start on each chord tone within a fifth of ``around``, so a part stays in
    its register instead of drifting up or down over a song.
    """
    if previous is None:
        return close_voicing(chord, around, size)
    candidates = [close_voicing(chord, start, size) for start in range(around - 7, around + 8)]
    return min(candidates, key=lambda voicing: sum(abs(a - b) for a, b in zip(voicing, previous)))


def scale_pitches(key: Key, scale: str, low: int, high: int) -> list[int]:
    """Pitches of ``scale`` (a name in :data:`SCALES`) on the key's tonic within ``[low, high]``."""
    return pitches_in_range(tuple((key.tonic + step) % 12 for step in SCALES[scale]), low, high)
