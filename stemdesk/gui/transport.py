"""Playback of the open song: the core Mixer and Player behind Qt signals.

The player's audio callback runs on PortAudio's thread and only reads
references; this object hands it a new MixerState or a seek request by
assignment and polls the playhead on a timer, so nothing here can make the
callback wait. Without a sound output the transport still holds the mixer
and a playhead (seeking, the clock and exports work); playing is refused with
a message.
"""

from __future__ import annotations

import logging
from contextlib import suppress

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from stemdesk.errors import StemdeskError
from stemdesk.growing_stems import GrowingStems
from stemdesk.playback import BeatGrid, Mixer, MixerState, Player, list_output_devices
from stemdesk.practice import Grid, PracticeSetup, click_grid

log = logging.getLogger(__name__)

# How often the playhead is redrawn while playing (about 30 frames a second).
_POLL_MS = 33


class Transport(QObject):
    """Play, pause and seek the open song on a sound output.

    The player hears one MixerState made of the mixer's controls
    (:meth:`set_state`) and the loop of the practice set-up
    (:meth:`set_practice`): the loop in samples is derived here, from the one
    span the PracticeSetup owns.

    Signals:
        position_changed(samples): the playhead moved (polled while playing,
            at once after a seek).
        playing_changed(bool): playback started or stopped (also at the song's end).
        output_changed(ok, message): the sound output opened (ok) or could
            not be opened (message says why).
    """

    position_changed = Signal(int)
    playing_changed = Signal(bool)
    output_changed = Signal(bool, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.mixer: Mixer | None = None
        self.player: Player | None = None
        self.output_error = ""
        self._mix: MixerState | None = None
        self._practice = PracticeSetup()
        self._grid: BeatGrid | None = None
        self._device: str | None = None
        self._blocksize = 1024
        self._was_playing = False
        self._timer = QTimer(self)
        self._timer.setInterval(_POLL_MS)
        self._timer.timeout.connect(self._poll)
        # Loading PortAudio maps a library and scans the sound devices: better
        # while the window is built than in the moment the first song appears.
        with suppress(StemdeskError):
            list_output_devices()

    @property
    def rate(self) -> int:
        return self.mixer.rate if self.mixer else 0

    @property
    def length(self) -> int:
        """Samples in the song (0 with no song)."""
        return self.mixer.length if self.mixer else 0

    @property
    def position(self) -> int:
        """Playhead in song samples (the player's: it renders ahead of what is heard)."""
        if self.player is not None:
            return self.player.position
        return self.mixer.position if self.mixer else 0

    @property
    def is_playing(self) -> bool:
        return self.player is not None and self.player.is_playing

    @property
    def blocksize(self) -> int:
        """Frames per audio block of the output."""
        return self._blocksize

    @property
    def has_output(self) -> bool:
        return self.player is not None

    @property
    def practice(self) -> PracticeSetup:
        return self._practice

    def load(
        self, stems: dict[str, np.ndarray], rate: int, state: MixerState, position: int = 0, play: bool = False,
        growing: GrowingStems | None = None,
    ) -> None:
        """Put a song (stem arrays ``(channels, samples)``) on the transport at sample ``position``.

        ``play`` starts it at once: the same song split by another model goes on playing.
        ``growing``: the buffer the stems are views of while still being separated.
        """
        self.unload()
        self.mixer = Mixer(stems, rate, max_block=max(4096, self._blocksize), growing=growing)
        self._mix = state
        self._push_mix()
        self.mixer.seek(position)
        self._open_output()
        if play:
            self.play()
        self.position_changed.emit(self.position)

    def unload(self) -> None:
        """Stop and forget the song; the sound output is released."""
        self._close_output()
        self.mixer = None
        self._set_playing(False)

    def set_output(self, device: str | None, blocksize: int) -> None:
        """Use another output (None: the system default) or block size from now on."""
        self._device = device or None
        self._blocksize = int(blocksize)
        if self.mixer is not None:
            playing = self.is_playing
            self._close_output()
            self._open_output()
            if playing and self.player is not None:
                self.player.play()
            self._set_playing(self.is_playing)

    def set_state(self, state: MixerState) -> None:
        """The mix to hear from the next audio block on (a reference swap)."""
        self._mix = state
        self._push_mix()

    def set_practice(self, practice: PracticeSetup) -> None:
        """Loop, tempo, transpose, click, count-in and trainer to play with from the next chunk on.

        Raises StemdeskError when it asks for tempo or pitch and the stretcher is
        not installed (the loop and the click still apply).
        """
        self._practice = practice
        self._push_mix()
        if self.player is not None:
            self.player.set_practice(practice.player_settings())

    def set_grid(self, grid: Grid | None) -> None:
        """The beat grid the click and the count-in follow (None: no grid)."""
        self._grid = click_grid(grid)
        if self.player is not None:
            self.player.set_grid(self._grid)

    def _push_mix(self) -> None:
        if self.mixer is None or self._mix is None:
            return
        state = self._mix.with_loop(self._practice.loop_samples(self.mixer.rate, self.mixer.length))
        if self.player is not None:
            self.player.set_state(state)
        else:
            self.mixer.state = state

    def play(self) -> None:
        if self.mixer is None:
            return
        if self.player is None:
            # Try again: a sound device may have appeared since the song was opened.
            self._open_output()
            if self.player is None:
                return
        self.player.play()
        self._set_playing(True)

    def pause(self) -> None:
        if self.player is not None:
            self.player.pause()
        self._set_playing(False)
        self.position_changed.emit(self.position)

    def toggle(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    def seek(self, samples: int) -> None:
        """Move the playhead (clamped to the song), playing or not."""
        if self.mixer is None:
            return
        if self.player is not None:
            self.player.seek(samples)
        else:
            self.mixer.seek(samples)
        self.position_changed.emit(self.position)

    def seek_seconds(self, seconds: float) -> None:
        self.seek(round(seconds * self.rate))

    def seek_by(self, seconds: float) -> None:
        self.seek(self.position + round(seconds * self.rate))

    def _open_output(self) -> None:
        position = self.mixer.position
        try:
            self.player = Player(self.mixer, device=self._device, blocksize=self._blocksize, grid=self._grid)
        except StemdeskError as error:
            self.player = None
            self.output_error = str(error)
            self.output_changed.emit(False, self.output_error)
        else:
            self.output_error = ""
            self._push_mix()
            self.player.seek(position)
            try:
                self.player.set_practice(self._practice.player_settings())
            except StemdeskError as error:
                # Without the stretcher the song still plays as recorded, loop and click included.
                log.warning("%s", error)
            self.output_changed.emit(True, "")

    def _close_output(self) -> None:
        self._timer.stop()
        if self.player is not None:
            self.player.close()
            self.player = None

    def _set_playing(self, playing: bool) -> None:
        if playing:
            self._timer.start()
        else:
            self._timer.stop()
        if playing != self._was_playing:
            self._was_playing = playing
            self.playing_changed.emit(playing)

    def _poll(self) -> None:
        self.position_changed.emit(self.position)
        if not self.is_playing:
            # The song ended (or PortAudio stopped): release the stream for the next play.
            if self.player is not None:
                self.player.pause()
            self._set_playing(False)
