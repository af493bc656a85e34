"""Playing a `Mixer` through a sound output with sounddevice (PortAudio).

Three threads:

- One controlling thread (the GUI thread) calls every method and property of `Player`.
- The render thread (`stemdesk.playback.render_thread`) runs the `RenderPipeline` --
  stem mixer, stretcher (tempo, transpose), click, count-in -- and keeps a ring buffer
  `fill` frames ahead of the callback.
- PortAudio calls the stream callback on its own thread, once per block. The callback
  only copies the next block out of the ring (and ramps it at play and pause): it takes
  no lock, allocates no arrays and never prints. (It does need the GIL; the stretcher
  and numpy drop it for their long loops, and the render thread works in chunks.)
- Controlling thread -> the others: only by replacing references they read once per
  chunk or block -- the `MixerState`, the `PracticeState`, a seek request, the pause
  request -- each a single attribute assignment, atomic under the GIL.
- Callback -> controlling thread: the playhead position (the song sample of the next
  frame to play, latency compensated through the stretcher and the ring), `finished`
  and the glitch counters, plain numbers the controlling thread polls. The sound heard
  lags the position by about `Player.latency` seconds.

sounddevice is imported on first use so the rest of stemdesk works, and can show a
message, on a machine without PortAudio.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from stemdesk.errors import StemdeskError
from stemdesk.playback.click import BeatGrid
from stemdesk.playback.feed import BlockFeed
from stemdesk.playback.mixer import Mixer, MixerState
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.render_thread import RenderThread
from stemdesk.playback.ring import OutputRing
from stemdesk.playback.practice import PracticeState, SpeedTrainer
from stemdesk.playback.stretcher import check_tempo

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


#: Frames of ring buffer (0.74 s at 44.1 kHz): the fill plus the largest stretcher output.
_RING_FRAMES = 1 << 15


class Player:
    """Plays a mixer on a sound output; pause, seek, mix and practice changes while it plays.

    mixer: the song to play; the render thread renders it.
    device: output device name (or a unique part of it) or PortAudio index; None for
        the system default.
    blocksize: frames per callback.
    grid: the song's beat grid (for the click and count-in), or None; `set_grid` later.
    fill: frames the render thread keeps ahead of the callback (default: two blocks,
        at least 2048); a mix, tempo or pitch change is heard after about that many.

    Raises StemdeskError("No audio output device: ...") if PortAudio is missing or the
    output cannot be opened; the app can show it and go on without sound.
    """

    def __init__(
        self, mixer: Mixer, device: str | int | None = None, blocksize: int = 1024,
        grid: BeatGrid | None = None, fill: int | None = None,
    ):
        sd = _sounddevice()
        self._mixer = mixer
        self._blocksize = blocksize
        self._pause_requested = False
        self._status_count = 0
        self._underflow_count = 0
        self._callback_stop = sd.CallbackStop
        self._closed = False
        self._pipeline = RenderPipeline(mixer, grid)
        self._ring = OutputRing(mixer.channels, _RING_FRAMES)
        self._feed = BlockFeed(self._ring, mixer.length, blocksize)
        fill = max(2 * blocksize, 2048) if fill is None else int(fill)
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
        self._renderer = RenderThread(self._pipeline, self._ring, fill)

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
        stop = self._feed.fill(outdata, self._pause_requested)
        # Stopping from inside the callback lets PortAudio play this last (faded or
        # final) block before the stream goes quiet.
        if stop:
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
        """Playhead in song samples: the next frame to play (or a pending seek).

        Song time at any tempo: the stretcher's latency and the ring's fill are taken
        out. During a count-in it is where the song will resume.
        """
        pending = self._renderer.pending
        if pending is not None:
            return pending[0]
        return int(min(self._ring.next_position(self._pipeline.tempo), self._mixer.length))

    @property
    def counting_in(self) -> bool:
        """Whether the frames playing now are a count-in."""
        return self._ring.counting_in

    @property
    def finished(self) -> bool:
        """Whether playback has reached the end of the song."""
        return self._renderer.pending is None and self.position >= self._mixer.length

    @property
    def state(self) -> MixerState:
        """The mix now playing."""
        return self._mixer.state

    @property
    def practice(self) -> PracticeState:
        """Tempo, transpose, click and count-in settings now in effect."""
        return self._pipeline.practice

    @property
    def tempo(self) -> float:
        """The tempo ratio being rendered now (the speed trainer's, or ramping to a new one)."""
        return self._pipeline.tempo

    @property
    def loop_pass(self) -> int:
        """Loop passes completed since play, seek or a new speed trainer (rendered ahead)."""
        return self._pipeline.loop_pass

    @property
    def grid(self) -> BeatGrid | None:
        return self._pipeline.grid

    @property
    def buffered(self) -> int:
        """Frames rendered ahead of the callback now (the ring's fill)."""
        return max(self._ring.fill, 0)

    @property
    def status_count(self) -> int:
        """Blocks for which PortAudio reported any problem (underflow, overflow, priming)."""
        return self._status_count

    @property
    def underflow_count(self) -> int:
        """Blocks that ran dry: PortAudio's underflows plus blocks the ring could not fill."""
        return self._underflow_count + self._feed.underruns

    @property
    def portaudio_underflow_count(self) -> int:
        """Blocks PortAudio itself flagged as an output underflow."""
        return self._underflow_count

    @property
    def starved_count(self) -> int:
        """Blocks the callback asked for before the render thread had them ready."""
        return self._feed.underruns

    @property
    def copied(self) -> int:
        """Frames the latest block took from the ring (the rest of it was zeros)."""
        return self._feed.copied

    @property
    def latency(self) -> float:
        """Output latency of the stream in seconds, as PortAudio estimates it."""
        return float(self._stream.latency)

    @property
    def render_cpu_seconds(self) -> float:
        """CPU time the render thread has used (for its share of a core)."""
        return self._renderer.cpu_seconds

    def set_state(self, state: MixerState) -> None:
        """Play `state` from the next chunk rendered on (gains ramp over it)."""
        self._mixer.state = state
        self._refresh()

    def _refresh(self, new_passes: bool = False) -> None:
        """Have a change heard: soon while playing; from the first frame when paused,
        where the ring would otherwise still hold frames rendered before it."""
        if self.is_playing and not new_passes:
            self._renderer.poke()
        else:
            self._renderer.restart(self.position, new_passes=new_passes)

    def set_practice(self, practice: PracticeState) -> None:
        """Play with the song's practice set-up from the next chunk on: its tempo, transpose,
        click, count-in and speed trainer (tempo and pitch ramp over 4 chunks). The loop is
        the mixer's to play (`MixerState.loop`).

        Raises StemdeskError if it changes tempo or pitch and the stretcher is not installed.
        """
        self._pipeline.check_practice(practice)
        trainer_changed = practice.trainer != self._pipeline.practice.trainer
        self._pipeline.practice = practice
        self._refresh(new_passes=trainer_changed)

    def set_tempo(self, ratio: float) -> None:
        """Tempo ratio 0.25-2.0 (1.0 as recorded), without changing the pitch."""
        self.set_practice(self.practice.with_tempo(check_tempo(ratio)))

    def set_transpose(self, semitones: float, cents: float = 0.0) -> None:
        """Transpose by -12..12 semitones plus -50..50 cents, without changing the tempo."""
        self.set_practice(self.practice.with_transpose(semitones, cents))

    def set_click(self, level_db: float, muted: bool) -> None:
        """The click strip: level in dB and mute (it clicks on the grid's beats)."""
        self.set_practice(self.practice.with_click(level_db, muted))

    def set_count_in(self, bars: int, before_each_loop: bool = False) -> None:
        """Count in 0, 1 or 2 bars when playback starts, and optionally before each loop pass."""
        self.set_practice(self.practice.with_count_in(bars, before_each_loop))

    def set_speed_trainer(self, trainer: SpeedTrainer | None) -> None:
        """Let `trainer` set the tempo of each loop pass (None: back to the plain tempo)."""
        self.set_practice(self.practice.with_trainer(trainer))

    def set_grid(self, grid: BeatGrid | None) -> None:
        """The song's beats and downbeats for the click and count-in (None: no grid)."""
        self._renderer.set_grid(grid)

    def seek(self, samples: int) -> None:
        """Move the playhead to song sample `samples` (clamped to the song), playing or not.

        Drops what the ring holds; the render thread refills it from there at once.
        """
        self._renderer.restart(min(max(int(samples), 0), self._mixer.length))

    def play(self) -> None:
        """Start or resume playback, after the count-in if one is set; at the end of the
        song, start again from the top."""
        self._check_open()
        if self.is_playing:
            return
        self._finish_pause()
        position = self.position
        at_end = position >= self._mixer.length
        if self.practice.count_in_bars:
            self._renderer.restart(0 if at_end else position, count_in=True)
        elif at_end:
            self._renderer.restart(0)
        # The first blocks come from the ring: wait (briefly) until it holds them.
        self._renderer.wait_filled(timeout=1.0)
        self._feed.fade_in = True
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
        self.seek(0)

    def close(self) -> None:
        """Stop and release the sound device; the player cannot play afterwards."""
        if self._closed:
            return
        self.pause()
        self._closed = True
        self._renderer.stop()
        self._pipeline.close()
        self._stream.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this player is closed")

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
