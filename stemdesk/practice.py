"""What the musician sets up to practise a song: loop, tempo, transpose, click, markers.

One immutable :class:`PracticeSetup` per open song, in song time (seconds of
the original recording, whatever the tempo). It is the only owner of the A-B
loop: the player's sample loop (``MixerState.loop``) is derived from it by
:meth:`PracticeSetup.loop_samples`, never set on its own. Plain Python and
pydantic, no Qt: the window keeps the current value in an evented model and
hands each new value to the player and the views, as it does with
:class:`~stemdesk.playback.MixerState`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from stemdesk.playback import BeatGrid as ClickGrid
from stemdesk.playback import PracticeState as PlayerSettings
from stemdesk.playback import SpeedTrainer as PlayerTrainer

#: Tempo factors the player offers (1.0: the recording's own tempo).
MIN_TEMPO, MAX_TEMPO = 0.25, 2.0
#: Transpose range in semitones; the half semitone beyond 12 is the ±50 cents fine tune.
MAX_TRANSPOSE = 12.5
#: Bars of count-in the player offers (0: none).
COUNT_IN_CHOICES = (0, 1, 2)
#: A loop shorter than this (seconds) is a click, not a loop.
MIN_LOOP_SECONDS = 0.02


class Marker(BaseModel):
    """A named point of the song ("verse 2", "solo"), in seconds."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=80)
    seconds: float = Field(ge=0.0)


class SpeedTrainer(BaseModel):
    """Each pass of the loop plays ``step`` faster, from ``start`` up to ``target`` (tempo factors)."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(0.7, ge=MIN_TEMPO, le=MAX_TEMPO)
    target: float = Field(1.0, ge=MIN_TEMPO, le=MAX_TEMPO)
    step: float = Field(0.05, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> SpeedTrainer:
        if self.start > self.target:
            raise ValueError(f"a speed trainer goes up: start {self.start} is above target {self.target}")
        return self


class PracticeSetup(BaseModel):
    """Everything practice-related the musician sets for one song, as one immutable value.

    loop: the A-B span (start, end) in song seconds, or None when none is marked.
    looping: whether playback wraps inside ``loop``.
    tempo: playback speed factor, pitch kept (0.25-2.0).
    transpose: pitch shift in semitones (fractions are cents), tempo kept.
    snap: whether marking a loop snaps to the beat grid.
    click, click_db: the metronome on the grid, and its level.
    count_in_bars: bars of click before playing starts (0, 1 or 2).
    count_in_each_pass: also count in before each pass of the loop.
    trainer: the speed trainer, or None when off.
    markers: named points of the song, in time order.
    """

    model_config = ConfigDict(frozen=True)

    loop: tuple[float, float] | None = None
    looping: bool = False
    tempo: float = Field(1.0, ge=MIN_TEMPO, le=MAX_TEMPO)
    transpose: float = Field(0.0, ge=-MAX_TRANSPOSE, le=MAX_TRANSPOSE)
    snap: bool = True
    click: bool = False
    click_db: float = Field(-6.0, ge=-60.0, le=12.0)
    count_in_bars: int = 0
    count_in_each_pass: bool = False
    trainer: SpeedTrainer | None = None
    markers: tuple[Marker, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> PracticeSetup:
        if self.loop is not None and not 0.0 <= self.loop[0] < self.loop[1]:
            raise ValueError(f"a loop needs 0 <= start < end, got {self.loop}")
        if self.count_in_bars not in COUNT_IN_CHOICES:
            raise ValueError(f"count-in must be one of {COUNT_IN_CHOICES} bars, got {self.count_in_bars}")
        if self.looping and self.loop is None:
            raise ValueError("looping needs a marked loop")
        return self

    def change(self, **changes) -> PracticeSetup:
        """This state with ``changes`` applied, validated (pydantic's model_copy does not validate)."""
        return PracticeSetup.model_validate({**self.model_dump(), **changes})

    def with_loop(self, span: tuple[float, float] | None, looping: bool | None = None) -> PracticeSetup:
        """This state with the A-B span ``span`` (None: no span, and so no looping)."""
        if span is None:
            return self.change(loop=None, looping=False)
        return self.change(loop=(float(span[0]), float(span[1])), looping=self.looping if looping is None else looping)

    def with_tempo(self, tempo: float) -> PracticeSetup:
        """This state at tempo factor ``tempo``, clamped to the offered range."""
        return self.change(tempo=round(min(MAX_TEMPO, max(MIN_TEMPO, float(tempo))), 4))

    def with_transpose(self, semitones: float) -> PracticeSetup:
        """This state transposed by ``semitones``, clamped to the offered range."""
        return self.change(transpose=round(min(MAX_TRANSPOSE, max(-MAX_TRANSPOSE, float(semitones))), 2))

    def with_marker(self, name: str, seconds: float) -> PracticeSetup:
        """This state with a marker ``name`` at ``seconds`` (replacing one of the same name)."""
        kept = [marker for marker in self.markers if marker.name != name]
        markers = sorted([*kept, Marker(name=name, seconds=seconds)], key=lambda marker: marker.seconds)
        return self.change(markers=tuple(markers))

    def player_settings(self) -> PlayerSettings:
        """What the player's render thread needs of this set-up (its own immutable value)."""
        semitones = round(self.transpose)
        trainer = self.trainer
        return PlayerSettings(
            tempo=self.tempo,
            semitones=float(semitones),
            cents=round((self.transpose - semitones) * 100.0, 6),
            click_db=self.click_db,
            click_muted=not self.click,
            count_in_bars=self.count_in_bars,
            count_in_each_loop=self.count_in_each_pass,
            trainer=None if trainer is None else PlayerTrainer(trainer.start, trainer.target, trainer.step * 100.0),
        )

    def loop_samples(self, rate: int, length: int) -> tuple[int, int] | None:
        """The loop the player wraps in: samples [start, end) of a song ``length`` long, or None."""
        if not self.looping or self.loop is None:
            return None
        start = min(round(self.loop[0] * rate), max(length - 1, 0))
        end = min(max(round(self.loop[1] * rate), start + 1), length)
        return start, end


class Grid(Protocol):
    """What loops need of a beat grid (:class:`stemdesk.analysis.grid.BeatGrid` has it)."""

    @property
    def beats(self) -> np.ndarray: ...

    @property
    def downbeats(self) -> np.ndarray: ...

    @property
    def duration(self) -> float: ...


def click_grid(grid: Grid | None) -> ClickGrid | None:
    """The beats and downbeats the player's click follows, from a song's grid (None without two beats)."""
    if grid is None or len(grid.beats) < 2:
        return None
    return ClickGrid(grid.beats, grid.downbeats)


def bar_length(grid: Grid) -> float:
    """The typical bar's length in seconds (median of the downbeat intervals; 0 without two bars)."""
    return float(np.median(np.diff(grid.downbeats))) if len(grid.downbeats) >= 2 else 0.0


def bar_at(grid: Grid, seconds: float) -> int:
    """The number of the bar playing at ``seconds``: 1 from the first downbeat on, 0 in a pickup."""
    return int(np.searchsorted(grid.downbeats, seconds + 1e-6, side="right"))


def bar_span(grid: Grid, first: int, last: int) -> tuple[float, float]:
    """Seconds from the start of bar ``first`` to the end of bar ``last`` (1-based, inclusive).

    The last bar of the song ends at the song's end. ValueError for bars the grid lacks.
    """
    downbeats = grid.downbeats
    if not 1 <= first <= last <= len(downbeats):
        raise ValueError(f"bars {first}-{last} are not in this song's 1-{len(downbeats)}")
    end = downbeats[last] if last < len(downbeats) else grid.duration
    return float(downbeats[first - 1]), float(end)


def snap_span(grid: Grid, start: float, end: float) -> tuple[float, float]:
    """A dragged span [start, end] snapped to the grid: to bar lines when it covers most
    of a bar or more, else to the nearest beats. Never shorter than one beat."""
    bar = bar_length(grid)
    lines = grid.downbeats if bar > 0 and end - start >= 0.75 * bar else grid.beats
    lines = np.concatenate([lines, [grid.duration]])
    if len(lines) < 2:
        return start, end
    first = int(np.argmin(np.abs(lines - start)))
    last = int(np.argmin(np.abs(lines - end)))
    last = max(last, first + 1)
    if last >= len(lines):
        first, last = len(lines) - 2, len(lines) - 1
    return float(lines[first]), float(lines[last])


def move_span(grid: Grid, span: tuple[float, float], bars: int) -> tuple[float, float]:
    """``span`` moved by ``bars`` bars (negative: earlier), kept inside the song.

    Ends on bar lines move from bar line to bar line, so a loop of bars 17-20
    becomes 18-21 even where the tempo drifts; other ends move by the typical bar.
    """
    lines = np.concatenate([grid.downbeats, [grid.duration]])
    shift = bars * bar_length(grid)

    def moved(seconds: float) -> float:
        nearest = int(np.argmin(np.abs(lines - seconds))) if len(lines) else 0
        if len(lines) and abs(lines[nearest] - seconds) < 1e-3 and 0 <= nearest + bars < len(lines):
            return float(lines[nearest + bars])
        return seconds + shift

    start, end = moved(span[0]), moved(span[1])
    if start < 0 or end > grid.duration or end - start < MIN_LOOP_SECONDS:
        return span
    return start, end
