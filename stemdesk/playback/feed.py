"""What the audio callback does with each block: copy it out of the ring, nothing more.

Kept apart from `Player` so that the benchmark times exactly this code with a real
render thread filling the ring, without a sound device.
"""

from __future__ import annotations

import numpy as np

from stemdesk.playback.ring import OutputRing


class BlockFeed:
    """Fills output blocks from `ring`; ramps the first block after play and the last at pause.

    length: the song's length in samples (a frame labelled with it is past the end);
    blocksize: frames per block (the ramps' length). Allocates nothing per block.
    """

    def __init__(self, ring: OutputRing, length: int, blocksize: int):
        self.ring = ring
        self.length = int(length)
        self.blocksize = int(blocksize)
        ramp = (np.arange(1, blocksize + 1, dtype=np.float32) / blocksize)[:, None]
        self._rise, self._fall = ramp, 1.0 - ramp
        #: Set by the controlling thread before the stream starts: ramp the next block up.
        self.fade_in = False
        #: Frames the latest block took from the ring (the rest of it was zeros).
        self.copied = 0
        #: Blocks the ring could not fill before the song's end.
        self.underruns = 0

    def fill(self, out: np.ndarray, pausing: bool) -> bool:
        """Fill `out` (frames, channels) with the next frames; True when the stream should stop
        after this block (`pausing`, faded out, or the song has ended)."""
        copied = self.ring.read_into(out)
        # The song has ended when a frame past its end is played (the render thread
        # always writes one: it labels the stretcher's tail with the song's length).
        ended = copied > 0 and self.ring.last_position >= self.length
        if copied < out.shape[0] and not ended:
            self.underruns += 1
        self.copied = copied
        if out.shape[0] == self.blocksize:
            if pausing:
                np.multiply(out, self._fall, out=out)
            elif self.fade_in:
                np.multiply(out, self._rise, out=out)
        self.fade_in = False
        return pausing or ended
