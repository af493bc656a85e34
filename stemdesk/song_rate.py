"""Stems computed at a network's rate, handed back at the song's rate span by span, summing to the song.

Every separation engine runs its network at the card's rate and hands out
stems at the file's own: :class:`StreamResampler` is soxr's streaming
resampler (the same samples as its one-shot one, however the input is cut),
and :class:`SongRateStems` turns spans of computed stems into spans of the
song's stems that sum to the matching span of the mixture exactly -- how the
last few samples are made to add up is the engine's own (``complete``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import soxr

from .sample_queue import SampleQueue


class StreamResampler:
    """soxr's streaming resampler for ``(C, n)`` blocks; passes them through at equal rates."""

    def __init__(self, source: int, target: int, channels: int):
        self._channels = channels
        self._stream = None if source == target else soxr.ResampleStream(
            source, target, channels, dtype="float32", quality="HQ"
        )

    def push(self, block: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return block
        return np.ascontiguousarray(self._stream.resample_chunk(np.ascontiguousarray(block.T)).T)

    def finish(self) -> np.ndarray:
        """What the filter still holds, once the input has ended."""
        if self._stream is None:
            return np.zeros((self._channels, 0), dtype=np.float32)
        tail = self._stream.resample_chunk(np.zeros((0, self._channels), dtype=np.float32), last=True)
        return np.ascontiguousarray(tail.T)


#: ``complete(stems, mixture)``: fills in, in place, float32 ``(S, C, n)`` stems whose
#: first ``computed`` rows hold the network's output (the rest zeros) so that they sum to
#: ``mixture`` ``(C, n)``, the same span of the song (read only).
Completion = Callable[[np.ndarray, np.ndarray], None]


class SongRateStems:
    """Spans of ``computed`` stems at ``net_rate`` in, spans of all ``stems`` at ``song_rate`` out.

    The mixture is pushed as it arrives (:meth:`push_mixture`), the computed
    stems as they are final (:meth:`push`), both in order; a span goes out as
    soon as both cover it. Past what the resampler gave back (its rounding at
    the end) the computed stems are zero, and ``complete`` still makes the
    stems sum to the song.

    Args:
        net_rate, song_rate: the network's and the song's sample rates.
        stems: S, the stems handed out.
        computed: how many of them (the first) the network gives.
        channels: C, the song's channels (the computed spans have them too).
        complete: see :data:`Completion`.
    """

    def __init__(self, net_rate: int, song_rate: int, stems: int, computed: int, channels: int, complete: Completion):
        self._stems, self._computed, self._channels = stems, computed, channels
        self._complete = complete
        self._back = StreamResampler(net_rate, song_rate, computed * channels)
        self._mixture = SampleQueue()
        self._pending = SampleQueue()  # computed stems at the song's rate, not yet handed out

    def push_mixture(self, block: np.ndarray) -> None:
        """The next float32 ``(C, n)`` of the song."""
        self._mixture.push(block)

    def push(self, span: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """The next float32 ``(computed, C, n)`` at the network's rate; yields ``(start, (S, C, m))`` now final."""
        self._pending.push(self._back.push(span.reshape(self._computed * self._channels, -1)))
        yield from self._matched(final=False)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """Once the song and its computed stems have ended: the spans left, up to the song's end."""
        self._pending.push(self._back.finish())
        yield from self._matched(final=True)

    def _matched(self, final: bool) -> Iterator[tuple[int, np.ndarray]]:
        pending, mixture = self._pending, self._mixture
        start = pending.start
        stop = mixture.end if final else min(pending.end, mixture.end)
        if stop <= start:
            return
        stems = np.zeros((self._stems, self._channels, stop - start), dtype=np.float32)
        ready = pending.take(start, min(stop, pending.end))
        stems[: self._computed, :, : ready.shape[-1]] = ready.reshape(self._computed, self._channels, -1)
        self._complete(stems, mixture.take(start, stop))
        pending.drop_before(stop)
        mixture.drop_before(stop)
        yield start, stems
