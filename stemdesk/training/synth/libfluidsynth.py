"""A minimal ctypes binding of libfluidsynth (FluidSynth 2.x): a synthesizer we drive note
by note and pull float samples from.

Why our own few lines instead of pyfluidsynth: pyfluidsynth hands out 16-bit samples
only (``get_samples`` wraps ``fluid_synth_write_s16``), and tinysoundfont's wheel
requires PyAudio, which needs PortAudio headers to build. libfluidsynth itself is one
Debian package (``libfluidsynth3``), renders 32-bit float stereo directly into our
arrays, supports sf2 and sf3 SoundFonts, and runs with no audio driver at all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache
from pathlib import Path
from typing import Self

import numpy as np

from stemdesk.errors import StemdeskError

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9
DRUM_BANK = 128
#: FluidSynth computes audio in blocks of this many frames and applies events at block starts.
BLOCK_FRAMES = 64

_P = ctypes.c_void_p
_INT = ctypes.c_int
_LOG_FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_SIGNATURES = {
    "new_fluid_settings": (_P, []),
    "delete_fluid_settings": (None, [_P]),
    "fluid_settings_setnum": (_INT, [_P, ctypes.c_char_p, ctypes.c_double]),
    "fluid_settings_setint": (_INT, [_P, ctypes.c_char_p, _INT]),
    "new_fluid_synth": (_P, [_P]),
    "delete_fluid_synth": (None, [_P]),
    "fluid_synth_sfload": (_INT, [_P, ctypes.c_char_p, _INT]),
    "fluid_synth_program_select": (_INT, [_P, _INT, _INT, _INT, _INT]),
    "fluid_synth_noteon": (_INT, [_P, _INT, _INT, _INT]),
    "fluid_synth_noteoff": (_INT, [_P, _INT, _INT]),
    "fluid_synth_cc": (_INT, [_P, _INT, _INT, _INT]),
    "fluid_synth_all_sounds_off": (_INT, [_P, _INT]),
    "fluid_synth_write_float": (_INT, [_P, _INT, _P, _INT, _INT, _P, _INT, _INT]),
    "fluid_set_log_function": (_P, [_INT, _LOG_FUNCTION, _P]),
}


def _forward_log(level: int, message: bytes, data) -> None:
    log.debug("fluidsynth (level %d): %s", level, message.decode(errors="replace"))


# FluidSynth prints its warnings ("no preset found"...) to stderr; they go to our
# logger instead. The callback object must outlive every call, hence module level.
_LOG_CALLBACK = _LOG_FUNCTION(_forward_log)


@cache
def library() -> ctypes.CDLL:
    """libfluidsynth, loaded once per process with its signatures declared.

    Raises StemdeskError (one line, with the package to install) when it is missing.
    """
    name = ctypes.util.find_library("fluidsynth")
    if name is None:
        raise StemdeskError("FluidSynth is not installed: install libfluidsynth3 (Debian) or fluid-synth")
    lib = ctypes.CDLL(name)
    for function, (result, arguments) in _SIGNATURES.items():
        getattr(lib, function).restype = result
        getattr(lib, function).argtypes = arguments
    for level in range(5):
        lib.fluid_set_log_function(level, _LOG_CALLBACK, None)
    return lib


def is_available() -> bool:
    """Whether libfluidsynth can be loaded here."""
    try:
        library()
    except StemdeskError:
        return False
    return True


class FluidSynth:
    """One FluidSynth instance with one SoundFont, its reverb and chorus off (augmentation
    adds room and modulation later, per stem, with known settings).

    Not thread-safe; use one per process or thread. Close it (or use ``with``) to free
    the SoundFont's samples.
    """

    def __init__(self, soundfont: str | Path, rate: int = 44100):
        self._lib = library()
        self.rate = int(rate)
        self._frames_written = 0
        self._settings = self._lib.new_fluid_settings()
        self._lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(self.rate))
        self._lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        self._lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        self._lib.fluid_settings_setint(self._settings, b"synth.lock-memory", 0)
        self._synth = self._lib.new_fluid_synth(self._settings)
        if not self._synth:
            self._lib.delete_fluid_settings(self._settings)
            raise StemdeskError("FluidSynth could not create a synthesizer")
        self._font = self._lib.fluid_synth_sfload(self._synth, str(soundfont).encode(), 1)
        if self._font < 0:
            self.close()
            raise StemdeskError(f"cannot load SoundFont '{soundfont}': FluidSynth refused it")

    def select(self, channel: int, bank: int, preset: int) -> bool:
        """Put ``bank``/``preset`` of the SoundFont on ``channel``; False if the font lacks it."""
        return self._lib.fluid_synth_program_select(self._synth, channel, self._font, bank, preset) == 0

    def note_on(self, channel: int, pitch: int, velocity: int) -> None:
        self._lib.fluid_synth_noteon(self._synth, channel, pitch, velocity)

    def note_off(self, channel: int, pitch: int) -> None:
        self._lib.fluid_synth_noteoff(self._synth, channel, pitch)

    def control(self, channel: int, number: int, value: int) -> None:
        """A MIDI control change (7 volume, 10 pan, 11 expression...)."""
        self._lib.fluid_synth_cc(self._synth, channel, number, value)

    def write(self, out: np.ndarray, start: int, count: int) -> None:
        """Render ``count`` frames into ``out[:, start:start + count]``.

        ``out`` is float32, shape ``(2, samples)``, C-contiguous (rows are written in place).
        """
        if out.dtype != np.float32 or out.shape[0] != 2 or not out.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous float32 array of shape (2, samples)")
        if start < 0 or start + count > out.shape[1]:
            raise ValueError(f"frames {start}..{start + count} are outside the buffer of {out.shape[1]}")
        left, right = out[0].ctypes.data, out[1].ctypes.data
        self._lib.fluid_synth_write_float(self._synth, count, left, start, 1, right, start, 1)
        self._frames_written += count

    def silence(self) -> None:
        """Stop every voice and flush, so that the next part starts from true silence at
        the start of a block.

        ``all_sounds_off`` lets the rest of the current block through, and a part that
        began mid-block would have its events shifted against the block grid: the same
        part would then render differently depending on what was rendered before it.
        """
        self._lib.fluid_synth_all_sounds_off(self._synth, -1)
        flush = 4 * BLOCK_FRAMES + (-self._frames_written) % BLOCK_FRAMES
        self.write(np.zeros((2, flush), np.float32), 0, flush)

    def close(self) -> None:
        if self._synth:
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if self._settings:
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
