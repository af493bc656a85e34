"""Playing a `Mixer` through a sound output with sounddevice (PortAudio).

Thread contract:

- One controlling thread (the GUI thread) calls every method and property of `Player`.
- PortAudio calls the stream callback on its own thread, once per block. The callback
  renders the mixer's next block into PortAudio's buffer and nothing else: it takes no
  lock of ours, allocates no arrays and never prints. (It does need the GIL, so other
  Python threads should not hold it for long: heavy work belongs in code that drops
  it, as numpy and ONNX Runtime do.)
- Controlling thread -> callback: only by replacing references the callback reads once
  per block -- the `MixerState`, a seek request, the pause request. Each is a single
  attribute assignment, atomic under the GIL, so the callback never waits on the GUI.
- Callback -> controlling thread: the playhead position, `finished` and the glitch
  counters, plain numbers the controlling thread polls (e.g. on a timer for the playhead).
  The position is that of the next block to render; the sound heard lags it by about
  `Player.latency` seconds.

sounddevice is imported on first use so the rest of stemdesk works, and can show a
message, on a machine without PortAudio.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from stemdesk.errors import StemdeskError
from stemdesk.playback.mixer import Mixer, MixerState

if TYPE_CHECKING:
    import sounddevice


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except ImportError as exc:
        raise StemdeskError(
            "No audio output device: the 'sounddevice' package is not installed."
        ) from exc
    except OSError as exc:  # sounddevice raises it when libportaudio cannot be loaded
        raise StemdeskError(
            f"No audio output device: the PortAudio library is not installed ({exc})."
        ) from exc
    return sounddevice


def _output_names(sd: ModuleType) -> list[str]:
    return [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]


def list_output_devices() -> list[str]:
    """Names of the sound outputs PortAudio finds, for a device chooser.

    Raises StemdeskError if PortAudio is missing.
    """
    return _output_names(_sounddevice())


class Player:
    """Plays a mixer on a sound output; pause, seek and mix changes while it plays.

    mixer: the song to play; the player renders it from the audio thread.
    device: output device name (or a unique part of it) or PortAudio index; None for
        the system default.
    blocksize: frames per callback; also the length of gain ramps and so the longest
        time, in blocks, before a fader or mute change is heard (plus output latency).

    Raises StemdeskError("No audio output device: ...") if PortAudio is missing or the
    output cannot be opened; the app can show it and go on without sound.
    """

    def __init__(self, mixer: Mixer, device: str | int | None = None, blocksize: int = 1024):
        sd = _sounddevice()
        self._mixer = mixer
        self._blocksize = blocksize
        self._pause_requested = False
        self._status_count = 0
        self._underflow_count = 0
        self._callback_stop = sd.CallbackStop
        self._closed = False
        try:
            self._stream = sd.OutputStream(
                samplerate=mixer.rate,
                channels=mixer.channels,
                dtype="float32",
                blocksize=blocksize,
                device=device,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise StemdeskError(self._explain_open_failure(sd, device, exc)) from exc

    @staticmethod
    def _explain_open_failure(sd: ModuleType, device: str | int | None, exc: Exception) -> str:
        names = _output_names(sd)
        if not names:
            return "No audio output device: PortAudio finds none (no sound card or audio server)."
        if device is not None and isinstance(exc, ValueError):
            return f"No audio output device: none matches {device!r} (outputs: {', '.join(names)})."
        return f"No audio output device: cannot open it ({exc})."

    def _callback(
        self,
        outdata: np.ndarray,
        frames: int,
        time_info: object,
        status: sounddevice.CallbackFlags,
    ) -> None:
        if status:
            self._status_count += 1
            if status.output_underflow:
                self._underflow_count += 1
        pausing = self._pause_requested
        self._mixer.render(outdata, fade_out=pausing)
        # Stopping from inside the callback lets PortAudio play this last (faded or
        # final) block before the stream goes quiet.
        if pausing or self._mixer.finished:
            raise self._callback_stop

    @property
    def mixer(self) -> Mixer:
        """The mixer this player plays."""
        return self._mixer

    @property
    def is_playing(self) -> bool:
        """Whether the stream is running (False after pause, stop or the song's end)."""
        return not self._closed and self._stream.active and not self._pause_requested

    @property
    def position(self) -> int:
        """Playhead in samples (the start of the next block to render)."""
        return self._mixer.position

    @property
    def finished(self) -> bool:
        """Whether playback has reached the end of the song."""
        return self._mixer.finished

    @property
    def state(self) -> MixerState:
        """The mix now playing."""
        return self._mixer.state

    @property
    def status_count(self) -> int:
        """Blocks for which PortAudio reported any problem (underflow, overflow, priming)."""
        return self._status_count

    @property
    def underflow_count(self) -> int:
        """Blocks for which the output ran dry before the callback delivered (audible gaps)."""
        return self._underflow_count

    @property
    def latency(self) -> float:
        """Output latency of the stream in seconds, as PortAudio estimates it."""
        return float(self._stream.latency)

    def set_state(self, state: MixerState) -> None:
        """Play `state` from the next block on (gains ramp over that block)."""
        self._mixer.state = state

    def seek(self, samples: int) -> None:
        """Move the playhead to `samples` (clamped to the song), playing or not."""
        self._mixer.seek(samples)

    def play(self) -> None:
        """Start or resume playback; at the end of the song, start again from the top."""
        self._check_open()
        if self.is_playing:
            return
        self._finish_pause()
        if self._mixer.position >= self._mixer.length:
            self._mixer.seek(0)
        self._mixer.fade_in()
        self._stream.start()

    def pause(self) -> None:
        """Stop playback where it is, after fading out over one block."""
        self._check_open()
        if self._stream.active:
            self._pause_requested = True
            # The callback renders the fade-out block and then stops the stream; wait
            # for that, bounded in case PortAudio stopped calling back.
            deadline = time.monotonic() + 4 * self._blocksize / self._mixer.rate + 1.0
            while self._stream.active and time.monotonic() < deadline:
                time.sleep(0.002)
        self._finish_pause()

    def _finish_pause(self) -> None:
        # A stream that ended from its callback is inactive but not stopped, and
        # PortAudio only starts stopped streams.
        if not self._stream.stopped:
            self._stream.stop()
        self._pause_requested = False

    def toggle(self) -> None:
        """Pause if playing, else play."""
        if self.is_playing:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Pause and put the playhead back at the start of the song."""
        self.pause()
        self._mixer.seek(0)

    def close(self) -> None:
        """Stop and release the sound device; the player cannot play afterwards."""
        if self._closed:
            return
        self.pause()
        self._closed = True
        self._stream.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this player is closed")

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
