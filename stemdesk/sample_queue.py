"""A queue of samples pushed in blocks and taken out by position, for streamed audio."""

from __future__ import annotations

from collections import deque

import numpy as np


class SampleQueue:
    """Samples ``[start, end)`` of a ``(..., n)`` signal pushed in blocks, taken out in order."""

    def __init__(self):
        self._blocks: deque[np.ndarray] = deque()
        self.start = 0
        self.end = 0

    def push(self, block: np.ndarray) -> None:
        if block.shape[-1]:
            self._blocks.append(block)
            self.end += block.shape[-1]

    def take(self, start: int, stop: int) -> np.ndarray:
        """float32 ``(..., stop - start)`` for ``self.start <= start <= stop <= self.end``."""
        pieces, first = [], self.start
        for block in self._blocks:
            low, high = max(start, first), min(stop, first + block.shape[-1])
            if low < high:
                pieces.append(block[..., low - first : high - first])
            first += block.shape[-1]
        if not pieces:
            return np.zeros((0, 0), dtype=np.float32)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=-1)

    def drop_before(self, position: int) -> None:
        while self._blocks and self.start + self._blocks[0].shape[-1] <= position:
            self.start += self._blocks.popleft().shape[-1]
        if self._blocks and self.start < position:
            self._blocks[0] = self._blocks[0][..., position - self.start :]
        self.start = max(self.start, position)
