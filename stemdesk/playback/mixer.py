"""Mixing stems for playback and export: faders in dB, mute/solo, master, A-B loop.

Pure numpy; no sound device, no Qt. `Mixer.render` is what the audio callback calls once
per block; `Mixer.mix` renders a range offline for export of "the current mix".

Thread contract (the player relies on it; see `stemdesk.playback.player`):
the controlling thread (the GUI) changes the mix only by assigning whole new immutable
`MixerState` values and seek requests -- single reference assignments, atomic under the
GIL. `render` reads each reference once per block and takes no lock, so the audio thread
never waits on the GUI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from stemdesk.growing_stems import GrowingStems


def db_to_amp(db: float) -> float:
    """Amplitude factor of a level in decibels; -inf dB (a fader at the bottom) is 0.0."""
    return 10.0 ** (db / 20.0)


def _check_db(db: float) -> float:
    db = float(db)
    # +inf or NaN would poison every later sample of the mix; -inf is a closed fader.
    if math.isnan(db) or db == math.inf:
        raise ValueError(f"a level in dB must be a number or -inf, got {db}")
    return db


@dataclass(frozen=True)
class StemControl:
    """One stem's channel strip: fader level in dB, mute and solo switches."""

    gain_db: float = 0.0
    mute: bool = False
    solo: bool = False


@dataclass(frozen=True)
class MixerState:
    """Everything the musician sets on the mixer, as one immutable value.

    controls: a `StemControl` per stem name (read-only mapping).
    master_db: master level in dB, applied to every stem.
    loop: (start, end) in samples with 0 <= start < end, or None for no loop.

    Solo follows DAW rules: if any stem is soloed only soloed stems play, and mute wins
    over solo on the same stem. The `with_*` methods return new states; the GUI hands
    them to `Mixer.state` (or `Player.set_state`) as a whole.
    """

    controls: Mapping[str, StemControl]
    master_db: float = 0.0
    loop: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "controls", MappingProxyType(dict(self.controls)))
        object.__setattr__(self, "master_db", _check_db(self.master_db))
        if self.loop is not None:
            start, end = (int(x) for x in self.loop)
            if not 0 <= start < end:
                raise ValueError(f"a loop needs 0 <= start < end, got ({start}, {end})")
            object.__setattr__(self, "loop", (start, end))

    @classmethod
    def for_stems(cls, names: Iterable[str]) -> MixerState:
        """All stems at 0 dB, nothing muted or soloed, master at 0 dB, no loop."""
        return cls({name: StemControl() for name in names})

    def _control(self, name: str) -> StemControl:
        try:
            return self.controls[name]
        except KeyError:
            raise KeyError(f"no stem named {name!r}; stems are {list(self.controls)}") from None

    def _with_control(self, name: str, **changes: object) -> MixerState:
        controls = dict(self.controls)
        controls[name] = replace(self._control(name), **changes)
        return replace(self, controls=controls)

    def with_gain(self, name: str, db: float) -> MixerState:
        """This state with stem `name`'s fader at `db` decibels (-inf closes it)."""
        return self._with_control(name, gain_db=_check_db(db))

    def with_mute(self, name: str, mute: bool = True) -> MixerState:
        """This state with stem `name` muted (or unmuted)."""
        return self._with_control(name, mute=bool(mute))

    def with_solo(self, name: str, solo: bool = True) -> MixerState:
        """This state with stem `name` soloed (or unsoloed)."""
        return self._with_control(name, solo=bool(solo))

    def with_master(self, db: float) -> MixerState:
        """This state with the master level at `db` decibels."""
        return replace(self, master_db=db)

    def with_loop(self, loop: tuple[int, int] | None) -> MixerState:
        """This state looping over samples [start, end), or not looping for None."""
        return replace(self, loop=loop)

    def audible(self, name: str) -> bool:
        """Whether stem `name` passes mute and solo (its fader level aside)."""
        control = self._control(name)
        if control.mute:
            return False
        any_solo = any(c.solo for c in self.controls.values())
        return control.solo or not any_solo

    def amplitudes(self, names: Iterable[str]) -> list[float]:
        """Effective amplitude factor of each named stem: fader times master, or 0.0."""
        master = db_to_amp(self.master_db)
        return [
            db_to_amp(self._control(name).gain_db) * master if self.audible(name) else 0.0
            for name in names
        ]


class Mixer:
    """The stems of one song and the position of the playhead in them.

    stems: name -> float32 array (channels, samples); all with the same number of samples
        and each with either 1 channel or the mix's channel count (the most any stem
        has). Mono stems are spread to every output channel. The arrays are referenced,
        not copied, and must not change while the mixer lives.
    rate: sample rate in Hz of every stem.
    max_block: frames of the largest block `render` expects; its scratch buffers are
        sized for it once, so the audio callback allocates nothing (a larger block makes
        it grow them on that call).
    growing: for a song still being separated, the `GrowingStems` that `stems` are
        views of: up to its frontier the stems are mixed as usual; beyond it, where
        nothing is separated yet, the song itself plays at the master level (mute,
        solo and faders apply to what is separated). The frontier is read once per
        block, and only samples before it are read from the stems.
    """

    def __init__(
        self,
        stems: Mapping[str, np.ndarray],
        rate: int,
        max_block: int = 4096,
        growing: GrowingStems | None = None,
    ):
        if not stems:
            raise ValueError("a mixer needs at least one stem")
        arrays = {name: np.asarray(audio, dtype=np.float32) for name, audio in stems.items()}
        for name, audio in arrays.items():
            if audio.ndim != 2:
                raise ValueError(f"stem {name!r} must be (channels, samples), got {audio.shape}")
        lengths = {audio.shape[1] for audio in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"stems differ in length: {sorted(lengths)} samples")
        channels = max(audio.shape[0] for audio in arrays.values())
        for name, audio in arrays.items():
            if audio.shape[0] not in (1, channels):
                raise ValueError(
                    f"stem {name!r} has {audio.shape[0]} channels; the mix has {channels}"
                )
        self.names: tuple[str, ...] = tuple(arrays)
        self.rate = int(rate)
        self.channels = channels
        self.length: int = lengths.pop()
        self._stems = tuple(arrays.values())
        self._growing = growing
        if growing is not None and growing.mixture.samples.shape != (channels, self.length):
            raise ValueError(f"the song is {growing.mixture.samples.shape}, its stems ({channels}, {self.length})")
        self._last_master = 0.0

        self._state = MixerState.for_stems(self.names)
        self._amps_state = self._state
        self._amps = self._state.amplitudes(self.names)
        self._last_amps = list(self._amps)

        self._position = 0
        self._finished = False
        # A seek is a (serial, target) pair replaced as one reference: the callback
        # compares serials, so a request made while it runs is never lost.
        self._seek_serial = 0
        self._seek_request = (0, 0)
        self._seek_done = 0

        self._allocate(max_block)

    def _allocate(self, frames: int) -> None:
        self._capacity = int(frames)
        self._acc = np.zeros((self.channels, frames), dtype=np.float32)
        self._scaled = np.zeros(frames, dtype=np.float32)
        self._ramp = np.zeros(frames, dtype=np.float32)
        self._steps = np.arange(1, frames + 1, dtype=np.float32)

    @property
    def state(self) -> MixerState:
        """The mix now playing; assign a new `MixerState` to change it (any thread)."""
        return self._state

    @state.setter
    def state(self, state: MixerState) -> None:
        if set(state.controls) != set(self.names):
            raise ValueError(f"state is for stems {list(state.controls)}, not {list(self.names)}")
        self._state = state

    @property
    def position(self) -> int:
        """Playhead in samples: the first sample of the next block (or a pending seek)."""
        serial, target = self._seek_request
        if serial != self._seek_done:
            return target
        return self._position

    @property
    def finished(self) -> bool:
        """True once a block has run past the end of the song (with no loop to wrap in)."""
        serial, target = self._seek_request
        if serial != self._seek_done:
            return target >= self.length
        return self._finished

    def seek(self, samples: int) -> None:
        """Move the playhead to `samples` (clamped to the song); the next block starts there."""
        target = min(max(int(samples), 0), self.length)
        self._seek_serial += 1
        self._seek_request = (self._seek_serial, target)

    def fade_in(self) -> None:
        """Make the next block ramp up from silence, e.g. when playback starts.

        Call it only while no `render` runs (the player calls it with its stream stopped).
        """
        self._last_amps = [0.0] * len(self.names)
        self._last_master = 0.0

    def snap(self) -> None:
        """Make the next block start at the current state's gains, without a ramp (a
        restart: there is no previous block to ramp from). Call it only while no `render` runs.
        """
        self._amps = self._state.amplitudes(self.names)
        self._amps_state = self._state
        self._last_amps = list(self._amps)

    def render(self, out: np.ndarray, fade_out: bool = False) -> None:
        """Fill `out` with the next block of the mix and advance the playhead.

        out: float32 array (frames, channels) -- sounddevice's layout -- with the mix's
            channel count, or any count if the mix is mono.
        fade_out: ramp every stem to silence over this block (the player pauses with it).

        Each stem's gain ramps linearly across the block from the previous block's value
        to the one the current state asks for, so faders and mutes never click. Inside an
        A-B loop the block wraps from B to A at the exact sample; past the end of the song
        it is filled with zeros and `finished` becomes True.
        """
        frames = out.shape[0]
        if frames > self._capacity:
            self._allocate(frames)
        state = self._state
        serial, target = self._seek_request
        if serial != self._seek_done:
            # Mark the request done last, so `position` never shows the old playhead.
            self._position = target
            self._finished = False
            self._seek_done = serial
        growing = self._growing
        frontier = growing.frontier if growing is not None else self.length
        master = 0.0 if fade_out else db_to_amp(state.master_db)
        if fade_out:
            amps = [0.0] * len(self.names)
        else:
            if state is not self._amps_state:
                self._amps = state.amplitudes(self.names)
                self._amps_state = state
            amps = self._amps

        acc = self._acc[:, :frames]
        acc.fill(0.0)
        loop_start, loop_end = self._loop_bounds(state)
        position = self._position
        written = 0
        while written < frames:
            looping = position < loop_end
            stop = min(loop_end if looping else self.length, position + frames - written)
            if stop <= position:
                break
            # Separated up to the frontier; the song itself beyond it.
            split = min(max(frontier, position), stop)
            if split > position:
                self._add_span(position, split, written, frames, amps)
            if stop > split:
                self._add_mixture(growing.mixture.samples, split, stop, written + split - position, frames, master)
            written += stop - position
            position = loop_start if looping and stop == loop_end else stop

        self._last_amps = amps
        self._last_master = master
        if frontier >= self.length:
            self._growing = None  # all separated: nothing more to read from it
        self._position = position
        self._finished = position >= self.length
        np.copyto(out, acc.T)

    def _loop_bounds(self, state: MixerState) -> tuple[int, int]:
        """The loop clipped to the song, as (start, end); end 0 means no loop."""
        if state.loop is None:
            return 0, 0
        start, end = state.loop
        end = min(end, self.length)
        if start >= end:
            return 0, 0
        return start, end

    def _add_span(self, start: int, stop: int, offset: int, frames: int, amps: list[float]) -> None:
        """Add stems' samples [start, stop) at block frame `offset` into the accumulator."""
        count = stop - start
        target = self._acc[:, offset : offset + count]
        for stem, old, new in zip(self._stems, self._last_amps, amps):
            if old == new:
                if new == 0.0:
                    continue
                gain = new
            else:
                # Gain at block frame k is old + (new - old) * (k + 1) / frames: it reaches
                # `new` exactly on the block's last frame, whatever span frame k falls in.
                ramp = self._ramp[:frames]
                np.multiply(self._steps[:frames], (new - old) / frames, out=ramp)
                np.add(ramp, old, out=ramp)
                gain = ramp[offset : offset + count]
            # Row by row: numpy buffers (allocates) 2-D ufuncs over strided or broadcast
            # operands, and a mono stem is scaled once for every output channel.
            scaled = self._scaled[:count]
            for channel in range(self.channels):
                if channel < stem.shape[0]:
                    np.multiply(stem[channel, start:stop], gain, out=scaled)
                np.add(target[channel], scaled, out=target[channel])

    def _add_mixture(self, mixture: np.ndarray, start: int, stop: int, offset: int, frames: int, master: float) -> None:
        """Add the unseparated song's samples [start, stop) at block frame `offset`."""
        count = stop - start
        target = self._acc[:, offset : offset + count]
        old = self._last_master
        if old == master == 0.0:
            return
        if old == master:
            gain = master
        else:
            ramp = self._ramp[:frames]
            np.multiply(self._steps[:frames], (master - old) / frames, out=ramp)
            np.add(ramp, old, out=ramp)
            gain = ramp[offset : offset + count]
        scaled = self._scaled[:count]
        for channel in range(self.channels):
            np.multiply(mixture[channel, start:stop], gain, out=scaled)
            np.add(target[channel], scaled, out=target[channel])

    def mix(self, state: MixerState, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The mix of samples [start, stop) under `state`, with constant gains, no loop.

        Returns float32 (channels, stop - start): the sum over stems of amplitude * stem,
        mono stems spread to every channel (beyond a growing song's frontier: the song
        at the master level). Safe to call from any thread while playing.
        """
        stop = self.length if stop is None else stop
        if not 0 <= start <= stop <= self.length:
            raise ValueError(f"range [{start}, {stop}) is outside the song's {self.length} samples")
        out = np.zeros((self.channels, stop - start), dtype=np.float32)
        growing = self._growing
        split = min(max(growing.frontier, start), stop) if growing is not None else stop
        for stem, amp in zip(self._stems, state.amplitudes(self.names)):
            if amp != 0.0:
                out[:, : split - start] += stem[:, start:split] * np.float32(amp)
        if split < stop:
            out[:, split - start :] = growing.mixture.samples[:, split:stop] * np.float32(db_to_amp(state.master_db))
        return out
