"""The stems of a song while it is being separated: filled span by span, playable at once.

A separation hands out its stems in final spans, in order (``on_span`` of
:meth:`Separator.separate`). :class:`GrowingStems` is the buffer they land
in, preallocated for the whole song, and the *frontier*: how many samples of
every stem are final. The mixer plays the stems up to the frontier and the
mixture beyond it, so playback can start when the first chunk is done.

Thread contract: one writer, the separation thread, fills the buffer through
:meth:`GrowingStems.on_span` and moves the frontier after the data is in
place (a single int assignment, atomic under the GIL); any number of readers
(the audio callback, the GUI) read ``frontier`` once and then only samples
before it, which never change again. No lock, so the audio callback never
waits.
"""

from __future__ import annotations

import numpy as np

from .audio import Audio


class GrowingStems:
    """A song's stems, being filled; see the module doc for the thread contract.

    Args:
        names: the stems in the separator's order.
        mixture: the song, float32 ``(C, N)``.

    Attributes:
        buffer: float32 ``(S, C, N)``, zeros where nothing is final yet; pass
            it as the separator's ``out``.
    """

    def __init__(self, names: tuple[str, ...], mixture: Audio):
        self.names = tuple(names)
        self.mixture = mixture
        self.buffer = np.zeros((len(self.names), mixture.channels, mixture.num_samples), dtype=np.float32)
        self._frontier = 0

    @property
    def frontier(self) -> int:
        """Samples ``[0, frontier)`` of every stem are final."""
        return self._frontier

    @property
    def length(self) -> int:
        return self.mixture.num_samples

    @property
    def complete(self) -> bool:
        return self._frontier >= self.length

    @property
    def stems(self) -> dict[str, np.ndarray]:
        """name -> float32 ``(C, N)`` view of the buffer (final only before the frontier)."""
        return dict(zip(self.names, self.buffer))

    def on_span(self, start: int, span: np.ndarray) -> None:
        """The separator's hook: ``span`` ``(S, C, n)`` at ``start`` is final.

        A span that is not already the buffer's own view (the separator was
        given another ``out``) is copied in first. Then the frontier moves.
        """
        stop = start + span.shape[-1]
        if start != self._frontier:
            raise ValueError(f"span at {start} does not continue the frontier at {self._frontier}")
        target = self.buffer[:, :, start:stop]
        if not np.shares_memory(target, span):
            target[...] = span
        self._frontier = stop
