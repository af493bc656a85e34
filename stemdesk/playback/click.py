"""The click: a metronome on the song's beat grid, mixed after the stretcher.

Why after the stretcher: a click stretched with the music would be smeared (a 0.5x
stretch doubles its decay and blurs its attack) and transposed with it. Mixed after, it
keeps its sound at any tempo and pitch, and it is placed where each beat of the song comes
out of the stretcher: the pipeline labels every output sample with the song position it
holds, and a click starts at the output sample whose label first reaches a beat.

Pure numpy; the render thread calls `ClickTrack.render` once per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stemdesk.playback.mixer import db_to_amp

#: Pitches and levels of the two blips: a higher, louder one on the downbeat.
_ACCENT_HZ, _BEAT_HZ = 1760.0, 1320.0
_ACCENT_AMP, _BEAT_AMP = 0.9, 0.6
_BLIP_SECONDS = 0.035
_ATTACK_SECONDS = 0.0005


@dataclass(frozen=True, eq=False)
class BeatGrid:
    """Beats and downbeats of a song, in seconds of the song's own time.

    beats: float64 (n,), increasing; downbeats: float64 (m,), each one of the beats (or
    close to one). bpm and meter come from the median beat and bar lengths.
    """

    beats: np.ndarray
    downbeats: np.ndarray

    def __post_init__(self) -> None:
        beats = np.asarray(self.beats, dtype=np.float64).ravel()
        downbeats = np.asarray(self.downbeats, dtype=np.float64).ravel()
        if beats.size < 2 or np.any(np.diff(beats) <= 0) or not np.isfinite(beats).all():
            raise ValueError("a beat grid needs at least two increasing, finite beat times")
        if not np.isfinite(downbeats).all():
            raise ValueError("downbeat times must be finite")
        object.__setattr__(self, "beats", beats)
        object.__setattr__(self, "downbeats", np.sort(downbeats))

    @property
    def beat_seconds(self) -> float:
        """The median time from one beat to the next."""
        return float(np.median(np.diff(self.beats)))

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_seconds

    @property
    def meter(self) -> int:
        """Beats per bar: the median count of beats between downbeats (4 without two of them)."""
        if self.downbeats.size < 2:
            return 4
        bars = np.searchsorted(self.beats, self.downbeats - 0.5 * self.beat_seconds)
        return max(1, int(round(float(np.median(np.diff(bars))))))

    def accents(self) -> np.ndarray:
        """bool (n,): which beats are downbeats (the nearest beat to each downbeat)."""
        accents = np.zeros(self.beats.size, dtype=bool)
        if self.downbeats.size:
            nearest = np.abs(self.beats[:, None] - self.downbeats[None, :]).argmin(axis=0)
            accents[nearest] = True
        return accents


def blip(rate: int, frequency: float, amplitude: float) -> np.ndarray:
    """A short pitched blip: float32 (samples,), a sine with a 0.5 ms rise and a fast decay."""
    t = np.arange(int(_BLIP_SECONDS * rate)) / rate
    envelope = np.exp(-t / (_BLIP_SECONDS / 5.0)) * np.minimum(1.0, t / _ATTACK_SECONDS)
    return (amplitude * envelope * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


class ClickTrack:
    """Renders clicks into blocks of output whose samples carry song positions.

    rate: sample rate in Hz; grid: the song's `BeatGrid` (None: no click in the song,
    count-in clicks only). Count-in beats are given in song samples by `count_in`.
    Render-thread state only: nothing here is touched by another thread.
    """

    def __init__(self, rate: int, grid: BeatGrid | None = None):
        self.rate = int(rate)
        self._accent = blip(self.rate, _ACCENT_HZ, _ACCENT_AMP)
        self._beat = blip(self.rate, _BEAT_HZ, _BEAT_AMP)
        self._tail = np.zeros(self._accent.size, dtype=np.float32)
        self._count_in = (np.zeros(0), np.zeros(0, dtype=bool))
        self.grid = grid

    @property
    def grid(self) -> BeatGrid | None:
        return self._grid

    @grid.setter
    def grid(self, grid: BeatGrid | None) -> None:
        self._grid = grid
        if grid is None:
            self._song = (np.zeros(0), np.zeros(0, dtype=bool))
        else:
            self._song = (grid.beats * self.rate, grid.accents())

    def count_in(self, beats: np.ndarray, accents: np.ndarray) -> None:
        """The count-in's beats, float64 (k,) song samples, and which are accented, bool (k,)."""
        self._count_in = (np.asarray(beats, dtype=np.float64), np.asarray(accents, dtype=bool))

    def reset(self) -> None:
        """Drop the tail of a blip still sounding (after a seek)."""
        self._tail.fill(0.0)

    def render(
        self, out: np.ndarray, labels: np.ndarray, counting: np.ndarray, step: float,
        amplitude: float, song_clicks: bool,
    ) -> None:
        """Add the clicks of one block to `out`.

        out: float32 (channels, m), the stretched mix; the click goes to every channel.
        labels: float64 (m,), the song position (samples) each output sample holds;
            count-in samples hold positions leading up to where the song resumes.
        counting: bool (m,), which samples are count-in.
        step: song samples per output sample now (the tempo), for the first sample of a
            span whose predecessor is not its neighbour in song time (a loop wrap, a seek).
        amplitude: the click strip's gain (0 for muted); song_clicks: click on the song's
            beats too (not only the count-in).
        """
        frames = labels.size
        acc = np.zeros(frames + self._tail.size, dtype=np.float32)
        acc[: self._tail.size] += self._tail
        previous = np.empty(frames)
        previous[1:] = labels[:-1]
        jumps = np.ones(frames, dtype=bool)
        jumps[1:] = (np.diff(labels) <= 0) | (np.diff(labels) > 4 * step) | (counting[1:] != counting[:-1])
        previous[jumps] = labels[jumps] - step
        for beats, accents, mask in ((self._count_in[0], self._count_in[1], counting),
                                     (self._song[0], self._song[1], ~counting if song_clicks else None)):
            if mask is None or not beats.size or not mask.any():
                continue
            upto = np.searchsorted(beats, labels, side="right")
            before = np.searchsorted(beats, previous, side="right")
            for frame in np.flatnonzero(mask & (upto > before)):
                sound = self._accent if accents[upto[frame] - 1] else self._beat
                acc[frame : frame + sound.size] += sound
        self._tail[:] = acc[frames:]
        if amplitude:
            out += acc[:frames] * np.float32(amplitude)


def click_amplitude(level_db: float, muted: bool) -> float:
    """The click strip's gain: its level in dB, or 0.0 when muted."""
    return 0.0 if muted else db_to_amp(level_db)
