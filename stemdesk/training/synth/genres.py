"""The genres the arranger knows: tempo range, modes, progressions, drum kits and the band.

A :class:`PartPlan` is one seat in the band: which generator plays it (its ``role``),
the General MIDI programs and playing styles it may use, and how often it is there at
all. Choosing among several programs per seat is what gives each class timbre variety
(a "guitar" is nylon, steel, clean, overdriven or distorted) across the data set.
"""

from __future__ import annotations

from dataclasses import dataclass

from stemdesk.training.synth.humanise import Feel

GENRE_NAMES = ("rock", "pop", "funk", "metal", "ballad", "latin")

_TIGHT = Feel(timing_ms=4.0, velocity_spread=6.0)
_BASS = Feel(offset_ms=4.0, timing_ms=7.0, velocity_spread=7.0)
_PLAYER = Feel(timing_ms=9.0, velocity_spread=7.0)
_LOOSE = Feel(offset_ms=6.0, timing_ms=14.0, velocity_spread=9.0)


@dataclass(frozen=True)
class PartPlan:
    """One seat in a genre's band.

    ``role`` picks the generator: drums, bass, guitar, chords (keys, strings, pads,
    horns) or lead. ``around`` is the register of chordal parts (MIDI pitch), ``span``
    the (low, high) range of lead lines; ``size`` the notes per chord.
    """

    name: str
    role: str
    programs: tuple[int, ...]
    styles: tuple[str, ...] = ("lead line",)
    chance: float = 1.0
    around: int = 64
    size: int = 3
    span: tuple[int, int] = (60, 84)
    feel: Feel = _PLAYER


@dataclass(frozen=True)
class Genre:
    """Tempo range (quarter notes per minute), modes, progressions per mode (roman
    numerals, one chord per harmonic-rhythm step), harmonic rhythms (bars per chord),
    swing amounts, drum kits (bank 128 presets), the lead line's scale per mode, the band."""

    name: str
    tempo: tuple[float, float]
    modes: tuple[str, ...]
    progressions: dict[str, tuple[tuple[str, ...], ...]]
    bars_per_chord: tuple[float, ...]
    swing: tuple[float, ...]
    kits: tuple[int, ...]
    lead_scale: dict[str, str]
    band: tuple[PartPlan, ...]


_DRUMS = PartPlan("drums", "drums", (0,), feel=_TIGHT)

GENRES: dict[str, Genre] = {
    "rock": Genre(
        "rock", (96, 150), ("major", "minor"),
        {"major": (("I", "IV", "V", "IV"), ("I", "bVII", "IV", "I"), ("I", "V", "IV", "I"), ("vi", "IV", "I", "V")),
         "minor": (("i", "bVII", "bVI", "bVII"), ("i", "bIII", "bVII", "iv"), ("i", "iv", "bVII", "bIII"))},
        (1.0, 1.0, 0.5), (0.0,), (0, 8, 16), {"major": "major pentatonic", "minor": "minor pentatonic"},
        (
            _DRUMS,
            PartPlan("bass", "bass", (33, 34, 33, 35), ("eighths", "with kick", "root fifth"), feel=_BASS),
            PartPlan("rhythm guitar", "guitar", (29, 30, 27, 25), ("power chords", "palm muted", "strummed")),
            PartPlan("second guitar", "guitar", (27, 26, 29, 25, 28), ("arpeggiated", "riff", "strummed"), 0.7),
            PartPlan("keys", "chords", (0, 16, 18, 17, 4), ("block chords", "sustained"), 0.4, around=62),
            PartPlan("strings", "chords", (48, 49, 89, 50), ("sustained",), 0.25, around=67, size=4, feel=_LOOSE),
            PartPlan("lead", "lead", (29, 30, 81, 65, 56), chance=0.5, span=(62, 86), feel=_LOOSE),
        ),
    ),
    "pop": Genre(
        "pop", (84, 128), ("major", "major", "minor"),
        {"major": (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("I", "vi", "IV", "V"), ("IV", "I", "V", "vi"),
                   ("Imaj7", "IVmaj7", "vi7", "V")),
         "minor": (("i", "bVI", "bIII", "bVII"), ("i", "iv", "bVI", "V"), ("bVI", "bVII", "i", "i"))},
        (1.0, 0.5), (0.0,), (0, 24, 25, 8), {"major": "major", "minor": "minor"},
        (
            _DRUMS,
            PartPlan("bass", "bass", (33, 38, 39, 34), ("with kick", "root fifth", "eighths"), feel=_BASS),
            PartPlan("acoustic guitar", "guitar", (25, 24, 27), ("strummed", "arpeggiated"), 0.85),
            PartPlan("electric guitar", "guitar", (27, 26, 28), ("arpeggiated", "funk chops"), 0.4),
            PartPlan("piano", "chords", (0, 1, 4, 5), ("block chords", "broken chords"), 0.8, around=64, size=3),
            PartPlan("pad", "chords", (88, 89, 90, 91, 94, 95, 50), ("sustained",), 0.5, around=60, size=4, feel=_LOOSE),
            PartPlan("strings", "chords", (48, 49), ("sustained",), 0.35, around=72, feel=_LOOSE),
            PartPlan("lead", "lead", (80, 81, 73, 65, 11), chance=0.7, span=(64, 86), feel=_LOOSE),
            PartPlan("brass", "chords", (61, 62), ("stabs",), 0.15, around=70),
        ),
    ),
    "funk": Genre(
        "funk", (90, 118), ("minor", "major"),
        {"minor": (("i7", "IV7"), ("i7", "i7", "iv7", "bVII7"), ("i7", "bIII", "IV7", "i7")),
         "major": (("I7", "IV7"), ("ii7", "V7"), ("I7", "I7", "IV7", "V7"))},
        (1.0, 2.0), (0.0, 0.15, 0.3), (0, 8), {"minor": "dorian", "major": "blues"},
        (
            _DRUMS,
            PartPlan("bass", "bass", (36, 37, 33, 38), ("funk", "with kick"), feel=_BASS),
            PartPlan("rhythm guitar", "guitar", (27, 28, 26), ("funk chops",)),
            PartPlan("second guitar", "guitar", (27, 29), ("riff",), 0.4),
            PartPlan("keys", "chords", (7, 4, 5, 16, 17), ("stabs", "block chords"), 0.8, around=66),
            PartPlan("horns", "chords", (61, 56, 57, 62, 66), ("stabs",), 0.6, around=70),
            PartPlan("organ", "chords", (16, 17), ("sustained",), 0.3, around=62, feel=_LOOSE),
            PartPlan("lead", "lead", (81, 65, 66, 56), chance=0.4, span=(62, 84), feel=_LOOSE),
        ),
    ),
    "metal": Genre(
        "metal", (110, 190), ("minor",),
        {"minor": (("i", "bVI", "bVII", "i"), ("i", "bII", "i", "bVII"), ("i", "i", "bVI", "bVII"),
                   ("i5", "bVI5", "bIII5", "bVII5"))},
        (1.0, 2.0), (0.0,), (16, 0, 8), {"minor": "harmonic minor"},
        (
            _DRUMS,
            PartPlan("bass", "bass", (34, 33, 38), ("chugs", "eighths"), feel=_BASS),
            PartPlan("guitar left", "guitar", (30, 29), ("palm muted", "power chords", "riff"), feel=_TIGHT),
            PartPlan("guitar right", "guitar", (30, 29, 30), ("palm muted", "riff", "power chords"), 0.8, feel=_TIGHT),
            PartPlan("lead guitar", "lead", (30, 29, 81), chance=0.5, span=(64, 90), feel=_PLAYER),
            PartPlan("choir or strings", "chords", (48, 52, 89, 49), ("sustained",), 0.3, around=66, size=4, feel=_LOOSE),
            PartPlan("organ", "chords", (19, 16), ("sustained",), 0.15, around=60, feel=_LOOSE),
        ),
    ),
    "ballad": Genre(
        "ballad", (58, 84), ("major", "minor"),
        {"major": (("I", "V", "vi", "IV"), ("I", "iii", "IV", "V"), ("Imaj7", "vi7", "ii7", "V7"),
                   ("IV", "V", "iii", "vi")),
         "minor": (("i", "iv", "bVII", "bIII"), ("i", "bVI", "iv", "V"))},
        (1.0, 2.0), (0.0,), (40, 32, 0), {"major": "major", "minor": "minor"},
        (
            PartPlan("drums", "drums", (0,), chance=0.85, feel=_TIGHT),
            PartPlan("bass", "bass", (33, 35, 32), ("root fifth",), feel=_BASS),
            PartPlan("piano", "chords", (0, 1, 2, 4), ("broken chords", "block chords"), 0.9, around=64),
            PartPlan("guitar", "guitar", (24, 25, 27), ("arpeggiated", "strummed"), 0.7),
            PartPlan("strings", "chords", (48, 49, 44), ("sustained",), 0.6, around=70, size=4, feel=_LOOSE),
            PartPlan("pad", "chords", (88, 89, 92), ("sustained",), 0.4, around=58, size=4, feel=_LOOSE),
            PartPlan("lead", "lead", (73, 65, 40, 71, 22, 68, 24), chance=0.6, span=(62, 86), feel=_LOOSE),
        ),
    ),
    "latin": Genre(
        "latin", (112, 140), ("minor", "major"),
        {"minor": (("i", "iv", "V7", "i"), ("i", "bVII", "bVI", "V7"), ("i", "iv", "bVII", "bIII")),
         "major": (("I", "IV", "V7", "I"), ("I", "vi", "IV", "V7"), ("I", "IV", "I", "V7"))},
        (1.0, 2.0), (0.0,), (0, 8), {"minor": "harmonic minor", "major": "major"},
        (
            PartPlan("percussion", "drums", (0,), feel=_TIGHT),
            PartPlan("bass", "bass", (33, 32, 34), ("tumbao",), feel=_BASS),
            PartPlan("requinto", "guitar", (24, 25, 27, 26), ("requinto",), 0.9, feel=_PLAYER),
            PartPlan("segunda guitar", "guitar", (25, 24, 27), ("arpeggiated",), 0.8),
            PartPlan("piano", "chords", (0, 1), ("montuno",), 0.35, around=72),
            PartPlan("brass", "chords", (61, 56, 57), ("stabs",), 0.25, around=70),
            PartPlan("strings", "chords", (48, 49), ("sustained",), 0.2, around=70, feel=_LOOSE),
            PartPlan("lead", "lead", (73, 65, 21, 56), chance=0.3, span=(64, 86), feel=_LOOSE),
        ),
    ),
}
