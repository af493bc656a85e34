"""The practice track, chunk by chunk: stem mixer -> stretcher -> click.

One `RenderPipeline` serves both the player's render thread (which keeps a ring buffer
ahead of the audio callback) and `stemdesk render` (which writes a file): the same code
makes what is heard and what is rendered.

Per chunk: the mixer renders the next span of the song (a span never crosses the loop end,
so a loop wrap falls between chunks); or, during a count-in, silence stands in for the
song. The stretcher changes tempo and pitch of that one mixed signal (never per stem).
Every input sample is labelled with its song position; the output samples are mapped back
to those labels through the stretcher's timing -- at tempo t each input sample lasts 1/t
output samples, and a tempo change reaches the content `Stretcher.ratio_delay` input
samples behind the newest input -- so the playhead, loop points and grid stay in song time.
The click is then mixed on the stretched signal at the output samples whose labels reach
a beat (see `stemdesk.playback.click` for why after the stretcher).

Tempo and pitch changes ramp geometrically over `RAMP_CHUNKS` chunks (46 ms at 512 frames,
44.1 kHz), so a change is never a step.

Thread contract: one thread (the render thread, or the caller offline) calls `start` and
`render`; other threads only replace `practice` (an immutable `PracticeState`: tempo,
transpose, click, count-in, speed trainer; the loop reaches the engine as `MixerState.loop`)
and the mixer's `MixerState`, single reference assignments read once per chunk.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from stemdesk.errors import StemdeskError
from stemdesk.playback.click import BeatGrid, ClickTrack, click_amplitude
from stemdesk.playback.mixer import Mixer
from stemdesk.playback.practice import PracticeState
from stemdesk.playback.stretcher import Stretcher, stretcher_available

#: Chunks over which a tempo or pitch change ramps.
RAMP_CHUNKS = 4
#: Labels kept for input samples still inside the stretcher (a power of two, > its latency).
_HISTORY = 1 << 15
#: Count-in tempo and meter when the song has no beat grid yet.
_DEFAULT_BPM, _DEFAULT_METER = 120.0, 4


class Chunk(NamedTuple):
    """One piece of output: audio float32 (channels, n), positions float64 (n,) -- the song
    sample each frame plays (during a count-in: where the song resumes) -- and counting
    bool (n,), which frames are count-in. n may be 0 while the stretcher fills up."""

    audio: np.ndarray
    positions: np.ndarray
    counting: np.ndarray


class _Ramp:
    """A value that moves to each new target geometrically over RAMP_CHUNKS steps."""

    def __init__(self, value: float):
        self.snap(value)

    def snap(self, value: float) -> None:
        self.value = self.target = self._origin = value
        self._step = RAMP_CHUNKS

    def next(self, target: float) -> float:
        if target != self.target:
            self._origin, self.target, self._step = self.value, target, 0
        if self._step < RAMP_CHUNKS:
            self._step += 1
            self.value = self._origin * (self.target / self._origin) ** (self._step / RAMP_CHUNKS)
        return self.value


class RenderPipeline:
    """mixer -> stretcher -> click for one song.

    mixer: the song's `Mixer` (its state, loop included, is read once per chunk).
    grid: the song's `BeatGrid` (beats and downbeats in seconds) for the click and
        count-in, or None.
    chunk: input frames per chunk.
    use_stretcher: None to use Rubber Band when it is installed; False to run without
        (tempo 1 and no transpose only); True to require it.
    """

    def __init__(
        self, mixer: Mixer, grid: BeatGrid | None = None, chunk: int = 512,
        use_stretcher: bool | None = None,
    ):
        if use_stretcher is None:
            use_stretcher = stretcher_available()
        self.mixer = mixer
        self.chunk = int(chunk)
        self.practice = PracticeState()
        self._stretcher = Stretcher(mixer.rate, mixer.channels, self.chunk) if use_stretcher else None
        self._click = ClickTrack(mixer.rate, grid)
        self._frames = np.zeros((self.chunk, mixer.channels), dtype=np.float32)
        self._song_labels = np.zeros(_HISTORY)
        self._click_labels = np.zeros(_HISTORY)
        self._counting = np.zeros(_HISTORY, dtype=bool)
        self._tempo = _Ramp(1.0)
        self._pitch = _Ramp(1.0)
        self.loop_pass = 0
        self.start(mixer.position)

    def close(self) -> None:
        """Free the stretcher now; this pipeline renders no more.

        A closed player's pipeline is part of reference cycles that only the
        collector's rare full passes free, and Rubber Band's buffers (~0.5 MB a
        stretcher) piled up meanwhile: the soak's 1361 model switches grew RSS by
        106 MB. Dropping the one reference here frees them at once.
        """
        self._stretcher = None

    @property
    def has_stretcher(self) -> bool:
        return self._stretcher is not None

    @property
    def grid(self) -> BeatGrid | None:
        return self._click.grid

    @grid.setter
    def grid(self, grid: BeatGrid | None) -> None:
        """Change the beat grid (render-thread side; the player hands it over)."""
        self._click.grid = grid

    @property
    def tempo(self) -> float:
        """The tempo ratio the stretcher plays at now (ramping towards the target)."""
        return self._tempo.value

    def target_tempo(self, practice: PracticeState) -> float:
        """The tempo `practice` asks for now: the speed trainer's for this loop pass, if set."""
        if practice.trainer is not None:
            return practice.trainer.tempo_for_pass(self.loop_pass)
        return practice.tempo

    def check_practice(self, practice: PracticeState) -> None:
        """StemdeskError if `practice` needs a stretcher this pipeline does not have."""
        if self._stretcher is None and practice.stretched:
            raise StemdeskError(
                "Tempo and transpose need Rubber Band: pip install 'stemdesk[stretch]' "
                "(GPL; a bundle that includes it is GPL)."
            )

    def start(self, position: int, count_in: bool = False, new_passes: bool = True) -> None:
        """Play from song sample `position` on, after a count-in if asked and set.

        Resets the stretcher (a seek); the next output is `position`'s. `new_passes`
        restarts the speed trainer's pass count.
        """
        if new_passes:
            self.loop_pass = 0
        practice = self.practice
        self.mixer.seek(position)
        self.mixer.snap()
        self._written = 0
        self._x = 0.0
        self._events: deque[tuple[float, float]] = deque()
        self._tempo.snap(self.target_tempo(practice))
        self._pitch.snap(practice.pitch)
        if self._stretcher is not None:
            self._stretcher.set_tempo(self._tempo.value)
            self._stretcher.set_pitch(self._pitch.value)
            self._stretcher.reset()
        self._out_tempo = self._tempo.value if self._stretcher is not None else 1.0
        self._click.reset()
        self._count_in_left = 0
        self._resume = min(max(int(position), 0), self.mixer.length)
        if count_in and practice.count_in_bars:
            self._begin_count_in(self._resume, practice.count_in_bars)

    def _begin_count_in(self, resume: int, bars: int) -> None:
        grid = self._click.grid
        bpm, per_bar = (grid.bpm, grid.meter) if grid is not None else (_DEFAULT_BPM, _DEFAULT_METER)
        beats = bars * per_bar
        period = 60.0 / bpm * self.mixer.rate
        length = int(round(beats * period))
        self._resume = resume
        self._count_in_left = length
        times = resume - length + period * np.arange(beats)
        self._click.count_in(times, np.arange(beats) % per_bar == 0)

    def render(self) -> Chunk:
        """The next chunk of output (see `Chunk`)."""
        practice = self.practice
        self._update_rates(practice)
        audio, song, click, counting = self._next_input(practice)
        self._label(song, click, counting)
        if self._stretcher is not None:
            self._stretcher.process(audio)
            out = self._stretcher.retrieve()
        else:
            out = audio.copy()  # the mixer's scratch block is reused by the next chunk
        xs = self._content_positions(out.shape[1])
        index = np.clip(np.floor(xs).astype(np.int64), self._written - _HISTORY, self._written - 1)
        slot = index % _HISTORY
        counting_out = self._counting[slot]
        click_labels = self._click_labels[slot] + (xs - index)
        positions = self._song_labels[slot] + np.where(counting_out, 0.0, xs - index)
        if out.shape[1]:
            self._click.render(
                out, click_labels, counting_out, self._out_tempo,
                click_amplitude(practice.click_db, False), song_clicks=not practice.click_muted,
            )
        return Chunk(out, positions, counting_out)

    def _update_rates(self, practice: PracticeState) -> None:
        tempo = self._tempo.next(self.target_tempo(practice))
        pitch = self._pitch.next(practice.pitch)
        if self._stretcher is None:
            return
        if tempo != self._stretcher.tempo:
            self._stretcher.set_tempo(tempo)
            self._events.append((self._written - self._stretcher.ratio_delay, tempo))
        self._stretcher.set_pitch(pitch)

    def _next_input(self, practice: PracticeState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The next input span: audio (channels, n), song and click labels (n,), counting (n,)."""
        mixer = self.mixer
        if self._count_in_left:
            frames = min(self.chunk, self._count_in_left)
            click = self._resume - self._count_in_left + np.arange(frames, dtype=np.float64)
            self._count_in_left -= frames
            song = np.full(frames, float(self._resume))
            return (np.zeros((mixer.channels, frames), dtype=np.float32), song, click,
                    np.ones(frames, dtype=bool))
        position = mixer.position
        loop = mixer.state.loop
        frames = self.chunk
        wraps = loop is not None and loop[0] < mixer.length and position < min(loop[1], mixer.length)
        if wraps:
            frames = min(frames, min(loop[1], mixer.length) - position)
        block = self._frames[:frames]
        mixer.render(block)
        # Past the song's end the mixer renders silence: label it with the end, so the
        # stretcher's tail plays out at the end position.
        song = np.minimum(position + np.arange(frames, dtype=np.float64), mixer.length)
        if wraps and mixer.position == loop[0] and position + frames == min(loop[1], mixer.length):
            self.loop_pass += 1
            if practice.count_in_each_loop and practice.count_in_bars:
                self._begin_count_in(loop[0], practice.count_in_bars)
        return block.T, song, song, np.zeros(frames, dtype=bool)

    def _label(self, song: np.ndarray, click: np.ndarray, counting: np.ndarray) -> None:
        slots = (self._written + np.arange(song.size)) % _HISTORY
        self._song_labels[slots] = song
        self._click_labels[slots] = click
        self._counting[slots] = counting
        self._written += song.size

    def _content_positions(self, frames: int) -> np.ndarray:
        """float64 (frames,): the input sample (fractional) each next output frame holds."""
        xs = np.empty(frames)
        done, x = 0, self._x
        while done < frames:
            if self._events and self._events[0][0] <= x:
                self._out_tempo = self._events.popleft()[1]
                continue
            rate = self._out_tempo
            count = frames - done
            if self._events:
                count = min(count, max(1, math.ceil((self._events[0][0] - x) / rate)))
            xs[done : done + count] = x + rate * np.arange(count)
            x += rate * count
            done += count
        self._x = x
        return xs

    @property
    def ended(self) -> bool:
        """Whether the song has run out (no loop) and no count-in is pending."""
        return self.mixer.finished and not self._count_in_left
