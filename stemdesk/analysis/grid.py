"""The beat and bar grid of one song, and the corrections a musician makes to it.

A :class:`BeatGrid` is plain data: beat times in seconds of song time, the meter
(beats per bar) and which beat is the first downbeat. Every correction is a pure
function that returns a new grid, so the GUI can keep an undo history by keeping
the old objects, and nothing ever edits a grid someone else holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stemdesk.errors import StemdeskError

MIN_BPM, MAX_BPM = 20.0, 400.0
MAX_METER = 16
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class BeatGrid:
    """Beats and bars of a song.

    ``beats`` is float64, shape ``(n,)``, strictly increasing seconds in
    ``[0, duration]``; ``meter`` the beats per bar; ``first_downbeat`` the index
    (``0 <= first_downbeat < meter``) of the first
    beat that starts a bar: every ``meter``-th beat from there is a downbeat (a
    pickup before it belongs to bar 0). ``duration`` is the song's length in
    seconds. The array is made read-only.
    """

    beats: np.ndarray
    meter: int
    first_downbeat: int
    duration: float

    def __post_init__(self) -> None:
        beats = np.array(self.beats, dtype=np.float64).reshape(-1)
        if not 1 <= int(self.meter) <= MAX_METER:
            raise ValueError(f"meter must be 1-{MAX_METER} beats per bar, got {self.meter}")
        if not np.isfinite(self.duration) or self.duration < 0:
            raise ValueError(f"duration must be a finite number of seconds >= 0, got {self.duration}")
        if not np.all(np.isfinite(beats)) or np.any(np.diff(beats) <= 0):
            raise ValueError("beats must be finite and strictly increasing")
        if len(beats) and (beats[0] < 0 or beats[-1] > self.duration):
            raise ValueError(f"beats must lie within the song (0-{self.duration:.3f} s)")
        if not 0 <= int(self.first_downbeat) < int(self.meter):
            raise ValueError(f"first_downbeat must be 0-{int(self.meter) - 1}, got {self.first_downbeat}")
        beats.flags.writeable = False
        object.__setattr__(self, "beats", beats)
        object.__setattr__(self, "meter", int(self.meter))
        object.__setattr__(self, "first_downbeat", int(self.first_downbeat))
        object.__setattr__(self, "duration", float(self.duration))

    @property
    def downbeats(self) -> np.ndarray:
        """Times of the beats that start a bar, float64 ``(bars,)`` seconds."""
        return self.beats[self.first_downbeat :: self.meter]

    @property
    def bpm(self) -> float:
        """Beats per minute from the median beat interval (0.0 with fewer than two beats)."""
        if len(self.beats) < 2:
            return 0.0
        return float(60.0 / np.median(np.diff(self.beats)))

    @property
    def positions(self) -> np.ndarray:
        """Each beat's place in its bar, int ``(n,)``: 1 for a downbeat up to ``meter``."""
        return (np.arange(len(self.beats)) - self.first_downbeat) % self.meter + 1

    def bar_numbers(self) -> np.ndarray:
        """The bar number of each downbeat, int ``(bars,)``: 1, 2, 3... (a pickup is bar 0)."""
        return np.arange(1, len(self.downbeats) + 1)

    def to_dict(self) -> dict:
        """JSON-ready: the summary keys of ``stemdesk beats --json`` plus what rebuilds the grid."""
        return {
            "format": _FORMAT,
            "bpm": round(self.bpm, 3),
            "meter": self.meter,
            "beats": [round(float(t), 5) for t in self.beats],
            "downbeats": [round(float(t), 5) for t in self.downbeats],
            "first_downbeat": self.first_downbeat,
            "duration": round(self.duration, 5),
        }

    @classmethod
    def from_dict(cls, data: dict) -> BeatGrid:
        """The grid :meth:`to_dict` wrote; a malformed dict raises :class:`StemdeskError`."""
        try:
            if data.get("format") != _FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            return cls(np.asarray(data["beats"], dtype=np.float64), int(data["meter"]),
                       int(data["first_downbeat"]), float(data["duration"]))
        except (KeyError, TypeError, ValueError, AttributeError) as problem:
            raise StemdeskError(f"not a beat grid: {problem}") from None


def uniform_grid(bpm: float, duration: float, offset: float = 0.0, meter: int = 4) -> BeatGrid:
    """Beats every ``60 / bpm`` s through ``[0, duration]``, one of them at ``offset`` s,
    with the first beat at or after ``offset`` minus whole bars as the first downbeat."""
    _check_bpm(bpm)
    period = 60.0 / bpm
    first = offset - np.floor(offset / period) * period
    beats = np.arange(first, duration + 1e-9, period)
    beats = beats[beats <= duration]
    return BeatGrid(beats, meter, int(round((offset - first) / period)) % meter, duration)


def tap_tempo(grid: BeatGrid, taps: Sequence[float]) -> BeatGrid:
    """A steady grid at the tempo and phase of the user's taps (seconds of song time).

    The period and phase are a least-squares line through the taps against their
    beat numbers, so one late tap moves the result little. The downbeat goes to the
    beat nearest the old grid's first downbeat (or the first tap when it had none).
    At least two taps are needed.
    """
    taps = np.sort(np.asarray(taps, dtype=np.float64))
    if len(taps) < 2 or np.any(np.diff(taps) <= 0):
        raise StemdeskError("tap tempo needs at least two taps at different times")
    intervals = np.diff(taps)
    # Number taps by beats, not taps: a skipped tap is a gap of two beats.
    steps = np.maximum(np.round(intervals / np.median(intervals)), 1)
    numbers = np.concatenate([[0.0], np.cumsum(steps)])
    period, phase = np.polyfit(numbers, taps, 1)
    anchor = grid.downbeats[0] if len(grid.downbeats) else taps[0]
    beat_one = phase + np.round((anchor - phase) / period) * period
    return uniform_grid(60.0 / period, grid.duration, beat_one, grid.meter)


def shift_grid(grid: BeatGrid, seconds: float) -> BeatGrid:
    """The grid moved by ``seconds`` (dragged), bars and all.

    Beats pushed outside the song are dropped and the uncovered edge is filled with
    beats at the edge's own beat interval, so the grid still spans the song.
    """
    if len(grid.beats) < 2:
        return BeatGrid(np.clip(grid.beats + seconds, 0.0, grid.duration), grid.meter, grid.first_downbeat, grid.duration)
    moved = grid.beats + seconds
    head_period, tail_period = moved[1] - moved[0], moved[-1] - moved[-2]
    ahead = np.arange(int(np.floor(moved[0] / head_period)), 0, -1) * -head_period + moved[0]
    behind = moved[-1] + tail_period * np.arange(1, int((grid.duration - moved[-1]) // tail_period) + 1)
    beats = np.concatenate([ahead, moved, behind])
    numbers = np.arange(len(beats)) - len(ahead) - grid.first_downbeat
    keep = (beats >= 0) & (beats <= grid.duration)
    return _renumbered(grid, beats[keep], numbers[keep])


def set_downbeat(grid: BeatGrid, time: float) -> BeatGrid:
    """The grid with the beat nearest ``time`` as beat 1 ("this is beat 1"); the meter stays."""
    if not len(grid.beats):
        return grid
    nearest = int(np.argmin(np.abs(grid.beats - time)))
    return BeatGrid(grid.beats, grid.meter, nearest % grid.meter, grid.duration)


def set_meter(grid: BeatGrid, meter: int) -> BeatGrid:
    """The grid with ``meter`` beats per bar, keeping the first downbeat where it was."""
    first = grid.beats[grid.first_downbeat] if len(grid.beats) else 0.0
    return set_downbeat(BeatGrid(grid.beats, meter, 0, grid.duration), first)


def halve_tempo(grid: BeatGrid) -> BeatGrid:
    """Every other beat (those in step with the downbeats): half the tempo, bars twice as long."""
    keep = np.arange(grid.first_downbeat % 2, len(grid.beats), 2)
    numbers = (keep - grid.first_downbeat) // 2
    return _renumbered(grid, grid.beats[keep], numbers)


def double_tempo(grid: BeatGrid) -> BeatGrid:
    """A beat added halfway between each pair: double the tempo, bars half as long."""
    if len(grid.beats) < 2:
        return grid
    beats = np.empty(2 * len(grid.beats) - 1)
    beats[0::2] = grid.beats
    beats[1::2] = (grid.beats[:-1] + grid.beats[1:]) / 2
    numbers = np.arange(len(beats)) - 2 * grid.first_downbeat
    return _renumbered(grid, beats, numbers)


def _renumbered(grid: BeatGrid, beats: np.ndarray, numbers: np.ndarray) -> BeatGrid:
    """A grid of ``beats`` whose beat numbered 0 (``numbers``, int, one per beat) starts a bar."""
    first = int(-numbers[0] % grid.meter) if len(beats) else 0
    return BeatGrid(beats, grid.meter, first, grid.duration)


def _check_bpm(bpm: float) -> None:
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise StemdeskError(f"a tempo of {bpm:.1f} bpm is outside {MIN_BPM:g}-{MAX_BPM:g}")
