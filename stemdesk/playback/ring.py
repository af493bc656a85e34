"""The ring buffer between the render thread (writer) and the audio callback (reader).

Single writer, single reader, no lock: each side owns one counter -- the writer `_written`,
the reader `_read`, both only ever growing -- and reads the other's, a plain int replaced
atomically under the GIL. The writer publishes samples by advancing `_written` after they
are in place; the reader frees space by advancing `_read` after it copied them. A flush
(for a seek) is the writer setting `_skip_to`: the reader jumps there at its next block.

Each frame carries the song position it plays (float64) and whether it is count-in, so
the playhead the GUI shows is the song position of the frame being played now.
"""

from __future__ import annotations

import numpy as np


class OutputRing:
    """capacity frames of (channels,) float32 audio plus a position and a count-in flag each."""

    def __init__(self, channels: int, capacity: int):
        self.capacity = int(capacity)
        self._audio = np.zeros((self.capacity, int(channels)), dtype=np.float32)
        self._positions = np.zeros(self.capacity, dtype=np.float64)
        self._counting = np.zeros(self.capacity, dtype=bool)
        self._written = 0
        self._read = 0
        self._skip_to = 0
        self._flush_position = 0.0
        self.position = 0.0
        self.last_position = 0.0
        self.counting_in = False

    # -- writer side (the render thread) --

    @property
    def fill(self) -> int:
        """Frames written and not yet played (as the writer sees it)."""
        return self._written - max(self._read, self._skip_to)

    @property
    def space(self) -> int:
        """Frames the writer may write now without overwriting unplayed ones."""
        return self.capacity - (self._written - self._read)

    def flush(self, position: float) -> None:
        """Make the reader drop everything written so far (a seek to song `position`)."""
        self._flush_position = float(position)
        self._skip_to = self._written

    def write(self, audio: np.ndarray, positions: np.ndarray, counting: np.ndarray) -> None:
        """Append frames: audio float32 (channels, n), positions float64 (n,), counting bool (n,).

        n must not exceed `space`.
        """
        frames = audio.shape[1]
        if frames > self.space:
            raise ValueError(f"{frames} frames do not fit the ring's {self.space} free frames")
        start = self._written % self.capacity
        first = min(frames, self.capacity - start)
        self._put(start, audio[:, :first], positions[:first], counting[:first])
        if frames > first:
            self._put(0, audio[:, first:], positions[first:], counting[first:])
        self._written += frames

    def _put(self, at: int, audio: np.ndarray, positions: np.ndarray, counting: np.ndarray) -> None:
        span = positions.size
        self._audio[at : at + span] = audio.T
        self._positions[at : at + span] = positions
        self._counting[at : at + span] = counting

    # -- reader side (the audio callback): copies only, allocates no arrays --

    def read_into(self, out: np.ndarray) -> int:
        """Copy the next frames into `out` (frames, channels); zero the rest. Returns frames copied.

        Also sets `position` and `counting_in` to those of the first frame copied and
        `last_position` to that of the last.
        """
        if self._read < self._skip_to:
            self._read = self._skip_to
        wanted = out.shape[0]
        frames = min(wanted, self._written - self._read)
        if frames > 0:
            start = self._read % self.capacity
            first = min(frames, self.capacity - start)
            np.copyto(out[:first], self._audio[start : start + first])
            if frames > first:
                np.copyto(out[first:frames], self._audio[: frames - first])
            self.position = float(self._positions[start])
            self.last_position = float(self._positions[(start + frames - 1) % self.capacity])
            self.counting_in = bool(self._counting[start])
            self._read += frames
        if frames < wanted:
            out[max(frames, 0):].fill(0.0)
        return max(frames, 0)

    def next_position(self, step: float) -> float:
        """The song position of the next frame to play.

        step: song samples per frame now (the tempo), to step past the last frame played
        when nothing more is buffered yet.
        """
        read = max(self._read, self._skip_to)
        if self._written > read:
            return float(self._positions[read % self.capacity])
        if self._read <= self._skip_to:  # nothing played since the last flush
            return self._flush_position
        return self.last_position + step
