"""The thread that keeps the ring buffer filled ahead of the audio callback.

It owns the `RenderPipeline` (mixer, stretcher, click) and is its only caller. The
controlling thread reaches it only by replacing references it reads each turn -- a
restart request (seek, count-in), the grid -- and by setting an Event that wakes it
early; the audio callback never touches it, it only reads the ring.
"""

from __future__ import annotations

import threading
import time

from stemdesk.playback.click import BeatGrid
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.ring import OutputRing
from stemdesk.playback.stretcher import MIN_TEMPO


class RenderThread:
    """Renders `pipeline` into `ring` until `fill` frames are buffered, then waits.

    fill: frames to keep ahead of the callback; with the stretcher's few milliseconds
    this is what delays a tempo, pitch or mix change (2048 frames: 46 ms at 44.1 kHz).
    """

    def __init__(self, pipeline: RenderPipeline, ring: OutputRing, fill: int):
        self.pipeline = pipeline
        self.ring = ring
        self.fill = int(fill)
        self._wake = threading.Event()
        self._stopping = False
        self._serial = 0
        # (serial, position, count_in, new_passes), replaced as one reference.
        self._request = (0, 0, False, True)
        self._done = 0
        self._tail_done = False
        self._grid: tuple[BeatGrid | None] | None = None
        self._cpu_seconds = 0.0
        # Output of one chunk at the slowest tempo, with room for the stretcher's bursts.
        self._largest_chunk = int(2 * pipeline.chunk / MIN_TEMPO)
        self._thread = threading.Thread(target=self._run, name="stemdesk-render", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> tuple[int, bool] | None:
        """(position, count_in) of a restart not yet rendered, or None."""
        serial, position, count_in, _ = self._request
        return (position, count_in) if serial != self._done else None

    @property
    def cpu_seconds(self) -> float:
        """CPU time the thread has used so far (time.thread_time of its own)."""
        return self._cpu_seconds

    def restart(self, position: int, count_in: bool = False, new_passes: bool = True) -> None:
        """Drop what is buffered and render from song sample `position` (a seek)."""
        self._serial += 1
        self._request = (self._serial, int(position), bool(count_in), bool(new_passes))
        self._wake.set()

    def set_grid(self, grid: BeatGrid | None) -> None:
        """Hand the pipeline a new beat grid (taken at its next chunk)."""
        self._grid = (grid,)
        self._wake.set()

    def poke(self) -> None:
        """Wake the thread now, e.g. after a change that should be heard soon."""
        self._wake.set()

    def wait_filled(self, timeout: float) -> bool:
        """Wait until a pending restart is rendered and `fill` frames are buffered."""
        deadline = time.monotonic() + timeout
        while self.pending is not None or self.ring.fill < min(self.fill, self.ring.capacity):
            if time.monotonic() > deadline or self.idle_at_end:
                return self.pending is None
            time.sleep(0.001)
        return True

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5.0)

    @property
    def idle_at_end(self) -> bool:
        """Whether the song has ended and everything of it is in the ring."""
        return self.pipeline.ended and self._tail_done and self.pending is None

    def _run(self) -> None:
        while not self._stopping:
            request = self._request
            if request[0] != self._done:
                serial, position, count_in, new_passes = request
                self.ring.flush(position)
                self.pipeline.start(position, count_in, new_passes)
                self._tail_done = False
                self._done = serial
            grid = self._grid
            if grid is not None:
                self._grid = None
                self.pipeline.grid = grid[0]
            if self.ring.fill >= self.fill or self.idle_at_end or self.ring.space < self._largest_chunk:
                self._cpu_seconds = time.thread_time()
                # Woken early by a request; otherwise about a quarter of the fill is played.
                self._wake.wait(timeout=self.fill / self.pipeline.mixer.rate / 4)
                self._wake.clear()
                continue
            chunk = self.pipeline.render()
            if self._request[0] != self._done:
                continue  # a seek came while rendering: this chunk is stale
            if chunk.positions.size:
                self.ring.write(*chunk)
                if self.pipeline.ended and chunk.positions[0] >= self.pipeline.mixer.length:
                    self._tail_done = True
        self._cpu_seconds = time.thread_time()
