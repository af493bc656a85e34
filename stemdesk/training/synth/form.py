"""A song's form and chord chart: sections of bars, each bar with its chords, in beats.

The part generators walk the chart bar by bar; a section's ``energy`` (0 quiet intro or
outro, 1 verse, 2 chorus) tells them how busy and loud to be and whether to play at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from stemdesk.training.synth.theory import Chord, Key, chord_of_numeral

BEATS_PER_BAR = 4

#: A pop/rock song from start to end: (section, energy). Durations are chosen per song.
_SONG_ORDER = (
    ("intro", 0), ("verse", 1), ("pre-chorus", 1), ("chorus", 2), ("verse", 1), ("chorus", 2),
    ("bridge", 1), ("solo", 2), ("chorus", 2), ("outro", 0),
)


@dataclass(frozen=True)
class Bar:
    """One bar: its first beat, its section and its chords as (beat offset, length in beats, chord)."""

    start: float
    section: str
    energy: int
    index_in_section: int
    bars_in_section: int
    chords: tuple[tuple[float, float, Chord], ...]

    @property
    def is_last_of_section(self) -> bool:
        return self.index_in_section == self.bars_in_section - 1

    @property
    def is_first_of_section(self) -> bool:
        return self.index_in_section == 0

    def chord_at(self, offset: float) -> Chord:
        """The chord sounding ``offset`` beats into the bar."""
        current = self.chords[0][2]
        for start, _, chord in self.chords:
            if start <= offset:
                current = chord
        return current


@dataclass(frozen=True)
class Chart:
    """The whole song as bars; ``tempo`` in quarter notes per minute."""

    key: Key
    tempo: float
    bars: tuple[Bar, ...]

    @property
    def beats(self) -> float:
        return len(self.bars) * BEATS_PER_BAR

    @property
    def form(self) -> list[str]:
        """Section names in order, one per section."""
        return [bar.section for bar in self.bars if bar.is_first_of_section]


def build_chart(
    rng: random.Random,
    key: Key,
    tempo: float,
    seconds: float,
    progressions: dict[str, tuple[str, ...]],
    bars_per_chord: float,
    sections: tuple[tuple[str, int], ...] = _SONG_ORDER,
) -> Chart:
    """A chart at least ``seconds`` long, starting at a random section of ``sections``.

    Starting anywhere (not always at the intro) gives short excerpts of every kind of
    section. ``progressions`` maps a section name to its roman numerals ("default" for
    names not listed); ``bars_per_chord`` is the harmonic rhythm (0.5, 1 or 2).
    """
    needed_bars = int(seconds * tempo / 60 / BEATS_PER_BAR) + 1
    # Start early enough that a short excerpt rarely wraps past the outro.
    position = rng.randrange(len(sections) - 3)
    bars: list[Bar] = []
    while len(bars) < needed_bars:
        name, energy = sections[position % len(sections)]
        length = rng.choice((4, 8)) if name not in ("intro", "outro") else rng.choice((2, 4))
        numerals = progressions.get(name, progressions["default"])
        chords = [chord_of_numeral(numeral, key) for numeral in numerals]
        bars.extend(_section_bars(len(bars) * BEATS_PER_BAR, name, energy, length, chords, bars_per_chord))
        position += 1
    return Chart(key, tempo, tuple(bars))


def _section_bars(
    start: float, name: str, energy: int, length: int, chords: list[Chord], bars_per_chord: float
) -> list[Bar]:
    beats_per_chord = bars_per_chord * BEATS_PER_BAR
    bars = []
    for index in range(length):
        bar_start = index * BEATS_PER_BAR
        spans = []
        offset = 0.0
        while offset < BEATS_PER_BAR:
            chord_number = int((bar_start + offset) // beats_per_chord)
            span = min(beats_per_chord, BEATS_PER_BAR - offset)
            spans.append((offset, span, chords[chord_number % len(chords)]))
            offset += span
        bars.append(Bar(start + bar_start, name, energy, index, length, tuple(spans)))
    return bars
