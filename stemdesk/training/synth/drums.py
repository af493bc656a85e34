"""Drum and percussion parts: per-genre step patterns, fills into sections, crashes on downbeats.

A pattern is a string of sixteenth-note steps for one General MIDI percussion key:
``X`` accent, ``x`` normal hit, ``o`` ghost note, ``.`` rest. 16 steps cover one bar;
32 steps cover two (a clave). A :class:`Groove` holds the patterns a song uses at each
energy (0 intro/outro, 1 verse, 2 chorus); the bass reads the same groove's kick
pattern so that bass and kick lock together as they do in a band.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from stemdesk.training.synth.form import BEATS_PER_BAR, Chart
from stemdesk.training.synth.humanise import BeatNote

KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 42, 44, 46
CRASH, RIDE, CHINA, TAMBOURINE, COWBELL = 49, 51, 52, 54, 56
HIGH_BONGO, LOW_BONGO, MUTED_CONGA, OPEN_CONGA, LOW_CONGA = 60, 61, 62, 63, 64
CABASA, MARACAS, SHORT_GUIRO, LONG_GUIRO, CLAVES = 69, 70, 73, 74, 75
TOMS_HIGH_TO_LOW = (50, 48, 47, 45, 43, 41)

_VELOCITY = {"X": 118, "x": 96, "o": 52}
_ENERGY_SCALE = (0.72, 0.88, 1.0)


@dataclass(frozen=True)
class Groove:
    """Patterns (GM key -> step string) for quiet, verse and chorus sections."""

    name: str
    quiet: dict[int, str]
    verse: dict[int, str]
    chorus: dict[int, str]
    fill_keys: tuple[int, ...] = TOMS_HIGH_TO_LOW

    def patterns(self, energy: int) -> dict[int, str]:
        return (self.quiet, self.verse, self.chorus)[energy]

    def kick_offsets(self, energy: int) -> list[float]:
        """Beat offsets within a bar where this groove's kick plays (first bar of a 2-bar pattern)."""
        pattern = self.patterns(energy).get(KICK, "x.......x.......")
        return [step / 4 for step, mark in enumerate(pattern[:16]) if mark != "."]


_EIGHTHS = "x.x.x.x.x.x.x.x."
_BACKBEAT = "....X.......X..."

GROOVES: dict[str, tuple[Groove, ...]] = {
    "rock": (
        Groove("rock beat",
               {CLOSED_HAT: _EIGHTHS, KICK: "x.......x......."},
               {KICK: "x.......x.x.....", SNARE: _BACKBEAT, CLOSED_HAT: _EIGHTHS},
               {KICK: "x.......x.x.....", SNARE: _BACKBEAT, RIDE: "X.x.X.x.X.x.X.x."}),
        Groove("driving rock",
               {RIDE: "x...x...x...x..."},
               {KICK: "x..x..x.x.......", SNARE: _BACKBEAT, CLOSED_HAT: "xxxxxxxxxxxxxxxx"},
               {KICK: "x..x..x.x..x....", SNARE: _BACKBEAT, OPEN_HAT: _EIGHTHS}),
    ),
    "pop": (
        Groove("pop four",
               {CLOSED_HAT: "x...x...x...x...", KICK: "x.......x......."},
               {KICK: "x.....x...x.....", SNARE: _BACKBEAT, CLOSED_HAT: "xoxoxoxoxoxoxoxo"},
               {KICK: "x.....x...x.....", SNARE: _BACKBEAT, CLAP: _BACKBEAT, OPEN_HAT: "..x...x...x...x.",
                TAMBOURINE: "xoxoxoxoxoxoxoxo"}),
        Groove("dance pop",
               {KICK: "x...x...x...x...", CLOSED_HAT: "..x...x...x...x."},
               {KICK: "x...x...x...x...", CLAP: _BACKBEAT, CLOSED_HAT: "..x...x...x...x."},
               {KICK: "x...x...x...x...", CLAP: _BACKBEAT, SNARE: _BACKBEAT, OPEN_HAT: "..X...X...X...X.",
                CLOSED_HAT: "x.o.x.o.x.o.x.o."}),
    ),
    "funk": (
        Groove("funk sixteenths",
               {CLOSED_HAT: "xoxoxoxoxoxoxoxo", KICK: "x.........x....."},
               {KICK: "x..x..x...x..x..", SNARE: "....X..o.o..X..o", CLOSED_HAT: "xoxoxoxoxoxoxo.o",
                OPEN_HAT: "..............x."},
               {KICK: "x..x..x...x..x..", SNARE: "....X..o.o..X..o", CLOSED_HAT: "xoxoxoxoxoxoxo.o",
                OPEN_HAT: "..............x.", COWBELL: "x...x...x...x..."}),
        Groove("funk shuffle",
               {PEDAL_HAT: "x.x.x.x.x.x.x.x."},
               {KICK: "x.x....x..x.....", SNARE: ".o..X.o..o..X.o.", CLOSED_HAT: _EIGHTHS},
               {KICK: "x.x....x..x..x..", SNARE: ".o..X.o..o..X.o.", OPEN_HAT: _EIGHTHS, TAMBOURINE: _BACKBEAT}),
    ),
    "metal": (
        Groove("double kick",
               {RIDE: "X...x...X...x...", KICK: "x.......x......."},
               {KICK: "x.x.x.x.x.x.x.x.", SNARE: _BACKBEAT, CLOSED_HAT: _EIGHTHS},
               {KICK: "xxxxxxxxxxxxxxxx", SNARE: _BACKBEAT, CHINA: "x...x...x...x..."}),
        Groove("blast",
               {CLOSED_HAT: _EIGHTHS, KICK: "x.......x......."},
               {KICK: "x..x..x.x..x..x.", SNARE: _BACKBEAT, RIDE: _EIGHTHS},
               {KICK: "x.x.x.x.x.x.x.x.", SNARE: ".x.x.x.x.x.x.x.x", RIDE: "X.x.X.x.X.x.X.x."}),
    ),
    "ballad": (
        Groove("ballad",
               {CLOSED_HAT: "o...o...o...o..."},
               {KICK: "x.......x.......", SIDE_STICK: _BACKBEAT, CLOSED_HAT: "o.o.o.o.o.o.o.o."},
               {KICK: "x.......x.x.....", SNARE: _BACKBEAT, RIDE: "x.o.x.o.x.o.x.o."}),
        Groove("half time",
               {RIDE: "o...o...o...o..."},
               {KICK: "x.........x.....", SIDE_STICK: "........x.......", CLOSED_HAT: "x.o.x.o.x.o.x.o."},
               {KICK: "x.........x.....", SNARE: "........X.......", CRASH: "x...............",
                RIDE: "x.x.x.x.x.x.x.x."}),
    ),
    "latin": (
        # Bachata: bongo martillo and guira in the verse; bass drum, cowbell and a busier
        # guira in the "derecho" (chorus) section.
        Groove("bachata",
               {HIGH_BONGO: "X.o.x.o.X.o.x...", LOW_BONGO: "..............x.", LONG_GUIRO: "x...x...x...x..."},
               {HIGH_BONGO: "X.o.x.o.X.o.x...", LOW_BONGO: "..............x.", LONG_GUIRO: "x...x...x...x...",
                SHORT_GUIRO: "..xx..xx..xx..xx", KICK: "x.......x......."},
               {COWBELL: "X.x.X.x.X.x.X.x.", KICK: "x...x...x...x...", LONG_GUIRO: "x...x...x...x...",
                SHORT_GUIRO: ".xxx.xxx.xxx.xxx", LOW_BONGO: "..............x."},
               fill_keys=(HIGH_BONGO, HIGH_BONGO, LOW_BONGO, LOW_BONGO)),
        # Son clave 3-2 with conga tumbao, cowbell and guiro (salsa / cumbia feel).
        Groove("son clave",
               {CLAVES: "x.....x.....x.......x...x.......", MARACAS: _EIGHTHS},
               {CLAVES: "x.....x.....x.......x...x.......", MUTED_CONGA: "..x...x...x...x.",
                OPEN_CONGA: "............x.x.", SHORT_GUIRO: "x.xxx.xxx.xxx.xx", KICK: "x.......x......."},
               {CLAVES: "x.....x.....x.......x...x.......", MUTED_CONGA: "..x...x...x...x.",
                OPEN_CONGA: "............x.x.", LOW_CONGA: "...............x", COWBELL: "X...x...X...x...",
                KICK: "x.....x.x.....x.", CABASA: "xoxoxoxoxoxoxoxo"},
               fill_keys=(OPEN_CONGA, OPEN_CONGA, MUTED_CONGA, LOW_CONGA)),
    ),
}


def drum_part(chart: Chart, groove: Groove, rng: random.Random) -> list[BeatNote]:
    """The drum part of ``chart``: the groove per section, a fill closing most sections
    (not the intro and outro), and a crash with the kick on each loud section's first beat."""
    notes: list[BeatNote] = []
    for number, bar in enumerate(chart.bars):
        patterns = groove.patterns(bar.energy)
        scale = _ENERGY_SCALE[bar.energy]
        fill_from = _fill_start(rng) if bar.is_last_of_section and bar.energy > 0 else BEATS_PER_BAR
        for key, pattern in patterns.items():
            steps = pattern[(number % (len(pattern) // 16)) * 16:][:16]
            for step, mark in enumerate(steps):
                if mark != "." and step / 4 < fill_from:
                    notes.append(BeatNote(bar.start + step / 4, 0.25, key, _VELOCITY[mark] * scale))
        if fill_from < BEATS_PER_BAR:
            notes.extend(_fill(bar.start + fill_from, BEATS_PER_BAR - fill_from, groove.fill_keys, rng))
        if bar.is_first_of_section and bar.energy == 2 and number > 0:
            notes.append(BeatNote(bar.start, 1.0, CRASH, 115))
            notes.append(BeatNote(bar.start, 0.25, KICK, 110))
    return notes


def _fill_start(rng: random.Random) -> float:
    """Beat offset where a fill begins in a section's last bar (4 = no fill)."""
    return rng.choices((2.0, 3.0, float(BEATS_PER_BAR)), weights=(3, 4, 3))[0]


def _fill(start: float, beats: float, keys: tuple[int, ...], rng: random.Random) -> list[BeatNote]:
    """Sixteenths walking down ``keys`` (toms, or bongos for latin) over ``beats`` beats."""
    count = int(beats * 4)
    stride = max(1, count // len(keys)) if rng.random() < 0.7 else 1
    return [
        BeatNote(start + index / 4, 0.25, keys[min(index // stride, len(keys) - 1)], 84 + 30 * index / count)
        for index in range(count)
    ]
