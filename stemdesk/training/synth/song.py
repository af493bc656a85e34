"""What the data engine renders: a song as parts of timed notes, each on one General MIDI program.

Both sources (procedural arrangements and music21 scores) produce a :class:`Song`;
the renderer and the dataset writer only ever see this form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stemdesk.instruments import class_of_gm_program


@dataclass(frozen=True)
class Note:
    """One note: start and length in seconds from the song's start, MIDI pitch and velocity.

    For drum parts ``pitch`` is the General MIDI percussion key (36 kick, 38 snare...).
    """

    time: float
    duration: float
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if self.time < 0 or self.duration <= 0:
            raise ValueError(f"a note needs time >= 0 and duration > 0, got {self.time}, {self.duration}")
        if not 0 <= self.pitch <= 127 or not 1 <= self.velocity <= 127:
            raise ValueError(f"pitch must be 0-127 and velocity 1-127, got {self.pitch}, {self.velocity}")


#: Playing styles of a melodic line over the band rather than an accompaniment: a
#: guitar part playing one is the lead guitar, any other guitar part rhythm guitar.
LEAD_STYLES = frozenset({"lead line", "requinto"})


@dataclass
class Part:
    """One instrument's line: its General MIDI program, its notes and how it plays.

    ``program`` is the GM program 0-127, or the drum kit (bank 128 preset: 0 standard,
    8 room, 16 power, 24 electronic, 25 TR-808, 32 jazz, 40 brush) when ``is_drum``.
    ``stem_class`` is derived: the stemdesk class this part's audio belongs to.
    """

    name: str
    program: int
    notes: list[Note]
    is_drum: bool = False
    style: str = ""
    stem_class: str = field(init=False)

    def __post_init__(self) -> None:
        self.stem_class = class_of_gm_program(self.program, self.is_drum)

    @property
    def stem(self) -> str:
        """The stem this part's audio is summed into: its class, except that guitars go to
        "guitar-lead" or "guitar-rhythm" (the guitar stem is then their sum)."""
        if self.stem_class != "guitar":
            return self.stem_class
        return "guitar-lead" if self.style in LEAD_STYLES else "guitar-rhythm"

    @property
    def end(self) -> float:
        """Seconds at which the last note ends (0 for a part without notes)."""
        return max((note.time + note.duration for note in self.notes), default=0.0)


@dataclass
class Song:
    """A song to render: its parts plus what the metadata records about it.

    ``tempo`` is in quarter notes per minute; ``key`` a name such as "E minor";
    ``form`` the section names in order; ``origin`` where it came from (the genre's
    generator or the music21 corpus path).
    """

    title: str
    source: str
    genre: str
    tempo: float
    key: str
    parts: list[Part]
    seed: int
    form: list[str] = field(default_factory=list)
    origin: str = ""

    def classes(self) -> list[str]:
        """The stemdesk classes that have at least one note, in first-appearance order."""
        return list(dict.fromkeys(part.stem_class for part in self.parts if part.notes))
