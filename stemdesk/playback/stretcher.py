"""Tempo and pitch of a stream of audio, block by block: Rubber Band in real-time mode.

Why Rubber Band (pylibrb) and not Signalsmith Stretch (python-stretch 0.3.1, the newest on
PyPI): python-stretch's `Stretch.process` seeks, processes, flushes and *resets* on every
call -- each call is an independent offline render -- so a stream cut into blocks comes out
with a phase jump at every block boundary (benchmarks/bench_stretchers.py measures it).
Rubber Band's real-time mode keeps its state across `process` calls and takes ratio and
pitch changes between them. It is GPL (v2 or later): it lives in the optional `stretch`
extra, is imported on first use, and a bundle that ships it is a GPL bundle.

Latency: after `reset` the stretcher is primed with its preferred start pad and its start
delay is dropped from the output, so output sample 0 holds input sample 0 and, at a
constant tempo t, input sample k comes out at k / t. A tempo change reaches the content
about `ratio_delay` input samples before the newest input (measured: 1300-2000 samples at
44.1 kHz, 1900 typical); `stemdesk.playback.pipeline` maps output back to song time with it.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from stemdesk.errors import StemdeskError

#: Tempo ratios the player accepts (25 % to 200 %) and transposition in semitones.
MIN_TEMPO, MAX_TEMPO = 0.25, 2.0
MAX_SEMITONES = 12.0
MAX_CENTS = 50.0
#: Input samples between the newest input and the content a ratio change first reaches,
#: as a share of the stretcher's start delay (1900 of 2048 at 44.1 kHz, measured).
_RATIO_DELAY_SHARE = 0.93


def _pylibrb() -> ModuleType:
    try:
        import pylibrb
    except ImportError as exc:
        raise StemdeskError(
            "Tempo and transpose need Rubber Band: pip install 'stemdesk[stretch]' "
            "(GPL; a bundle that includes it is GPL)."
        ) from exc
    return pylibrb


def stretcher_available() -> bool:
    """Whether the stretcher library is installed (else tempo 1 and transpose 0 only)."""
    try:
        _pylibrb()
    except StemdeskError:
        return False
    return True


def check_tempo(ratio: float) -> float:
    """`ratio` as a float, or ValueError outside 0.25-2.0 (25 % - 200 %)."""
    ratio = float(ratio)
    if not MIN_TEMPO <= ratio <= MAX_TEMPO:
        raise ValueError(f"tempo must be between {MIN_TEMPO} and {MAX_TEMPO}, got {ratio}")
    return ratio


def pitch_factor(semitones: float, cents: float = 0.0) -> float:
    """Frequency factor of a transposition, or ValueError outside +-12 semitones, +-50 cents."""
    if not -MAX_SEMITONES <= semitones <= MAX_SEMITONES:
        raise ValueError(f"transpose must be within +-{MAX_SEMITONES:g} semitones, got {semitones}")
    if not -MAX_CENTS <= cents <= MAX_CENTS:
        raise ValueError(f"cents must be within +-{MAX_CENTS:g}, got {cents}")
    return 2.0 ** ((semitones + cents / 100.0) / 12.0)


class Stretcher:
    """A real-time time stretcher and pitch shifter for one stream.

    rate: sample rate in Hz; channels: 1 or 2; max_block: the most input frames one
    `process` call gets (Rubber Band sizes its buffers for it).

    `process` takes float32 (channels, frames) input; `retrieve` returns what is ready as
    float32 (channels, n), n >= 0. Tempo t plays the input t times as fast (output is
    input length / t); pitch is a frequency factor (2 ** (semitones / 12)).
    """

    def __init__(self, rate: int, channels: int, max_block: int):
        rb = _pylibrb()
        option = rb.Option
        # The R3 ("finer") engine sounds best; high-consistency pitch mode lets the pitch
        # change while playing without a jump; channels together keep the stereo image.
        options = (
            option.PROCESS_REALTIME | option.ENGINE_FINER | option.PitchHighConsistency
            | option.CHANNELS_TOGETHER
        )
        self._make = lambda: rb.RubberBandStretcher(int(rate), int(channels), options, 1.0, 1.0)
        self._rb = None
        self._channels = int(channels)
        self._max_block = int(max_block)
        self._tempo = 1.0
        self._pitch = 1.0
        self._to_drop = 0
        self.reset()

    @property
    def tempo(self) -> float:
        return self._tempo

    @property
    def pitch(self) -> float:
        return self._pitch

    @property
    def ratio_delay(self) -> int:
        """Input samples from the newest input back to the content a tempo change reaches."""
        return int(round(_RATIO_DELAY_SHARE * self._start_delay))

    def set_tempo(self, ratio: float) -> None:
        """Play faster (ratio > 1) or slower from the next `process` call on."""
        if ratio != self._tempo:
            self._tempo = float(ratio)
            self._rb.time_ratio = 1.0 / self._tempo

    def set_pitch(self, factor: float) -> None:
        """Shift every frequency by `factor` from the next `process` call on."""
        if factor != self._pitch:
            self._pitch = float(factor)
            self._rb.pitch_scale = self._pitch

    def reset(self) -> None:
        """Forget all input (for a seek); the next output starts with the next input.

        A new Rubber Band stretcher rather than its own reset(): after reset() it
        did not give the same output as a fresh one, so what a stream played
        depended on what it had stretched before the seek (tests/test_render.py
        compares the player with an offline render). It costs one allocation per seek.
        """
        self._rb = self._make()
        self._rb.set_max_process_size(self._max_block)
        self._rb.time_ratio = 1.0 / self._tempo
        self._rb.pitch_scale = self._pitch
        self._start_delay = int(self._rb.get_start_delay())
        pad = int(self._rb.get_preferred_start_pad())
        silence = np.zeros((self._channels, self._max_block), dtype=np.float32)
        for start in range(0, pad, self._max_block):
            self._rb.process(silence[:, : min(self._max_block, pad - start)])
        self._to_drop = self._start_delay

    def process(self, block: np.ndarray) -> None:
        """Feed float32 (channels, frames) input, frames <= max_block."""
        self._rb.process(np.ascontiguousarray(block, dtype=np.float32))

    def retrieve(self) -> np.ndarray:
        """The output ready now: float32 (channels, n), n possibly 0."""
        available = self._rb.available()
        if available <= 0:
            return np.zeros((self._channels, 0), dtype=np.float32)
        out = self._rb.retrieve(available)
        if self._to_drop:
            dropped = min(self._to_drop, out.shape[1])
            self._to_drop -= dropped
            out = out[:, dropped:]
        return out

