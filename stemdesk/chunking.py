"""Process a long signal in fixed-size overlapping chunks and crossfade them back.

This is the only place where inference mechanics over time live: the
Separator, the tests and the benchmarks all go through :func:`apply_chunked`.
Chunks have a fixed length (a network's segment), overlap by ``overlap``
samples and are blended with linear crossfades (or Demucs' triangle weights,
for a network trained with them), so a chunk's unreliable edges fade out and
no seam is audible. Outputs are written into one preallocated
array; only ``batch`` chunks are alive at a time, which bounds memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import StemdeskError

Progress = Callable[[int, int], None]


class Cancelled(StemdeskError):
    """Raised when a running separation is cancelled by its token."""

    def __init__(self) -> None:
        super().__init__("Separation cancelled.")


class CancelToken:
    """A flag another thread sets to stop a running separation between chunks."""

    def __init__(self) -> None:
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled


#: How consecutive chunks blend: ``crossfade`` (linear ramps over the middle
#: half of the overlap, chunks laid end to end until the signal is covered)
#: or ``triangle`` (Demucs' ``apply_model``: a chunk starts every step until
#: the signal's end, each weighted by a triangle peaking at its middle).
TRANSITIONS = ("crossfade", "triangle")


@dataclass(frozen=True)
class ChunkPlan:
    """Where the chunks of a ``length``-sample signal start, what they see and how they blend.

    Consecutive chunks start ``chunk - overlap`` apart. ``crossfade``: the
    last one starts early enough to reach the end (its tail is zero-padded to
    ``chunk``). ``triangle``: chunks start at every step before the end; one
    that would run past it keeps ``span`` samples and the network sees a
    window centred on them, reaching back into the signal (zeros past its end),
    as Demucs pads a short chunk. ``transition_power`` sharpens the triangle.
    """

    length: int
    chunk: int
    overlap: int
    transition: str = "crossfade"
    transition_power: float = 1.0

    def __post_init__(self) -> None:
        if self.chunk <= 0 or not 0 <= self.overlap < self.chunk:
            raise ValueError(f"bad chunking: chunk {self.chunk}, overlap {self.overlap}")
        if self.transition not in TRANSITIONS or self.transition_power < 1:
            raise ValueError(f"bad transition {self.transition!r} (power {self.transition_power})")

    @property
    def starts(self) -> list[int]:
        step = self.chunk - self.overlap
        if self.transition == "triangle":
            return list(range(0, max(self.length, 1), step))
        starts = [0]
        while starts[-1] + self.chunk < self.length:
            starts.append(starts[-1] + step)
        return starts

    def span(self, index: int) -> tuple[int, int]:
        """``(start, stop)``: the samples of the signal chunk ``index`` gives output for."""
        start = self.starts[index]
        return start, min(start + self.chunk, self.length)

    def window_start(self, index: int) -> int:
        """Where the ``chunk`` samples the network sees for chunk ``index`` begin (may be < 0)."""
        start, stop = self.span(index)
        if self.transition == "triangle":
            return start - (self.chunk - (stop - start)) // 2
        return start

    def weight(self, index: int, count: int) -> np.ndarray:
        """float32 ``(stop - start,)`` weights of chunk ``index`` of ``count`` over its span.

        The weights of all chunks sum to one at every sample, so the blend
        needs no normalisation (and a finished span is final at once).
        ``crossfade`` ramps only where a neighbour overlaps, so the first and
        last chunks keep full weight at the signal's ends; a chunk's fade-out
        mirrors the next one's fade-in. ``triangle`` divides each chunk's
        triangle by the sum of the triangles of the chunks over its span.
        """
        if self.transition == "triangle":
            start, stop = self.span(index)
            total = np.zeros(stop - start, dtype=np.float32)
            for other in range(count):
                lo, hi = self.span(other)
                if lo < stop and hi > start:
                    first, last = max(lo, start), min(hi, stop)
                    total[first - start : last - start] += self._triangle()[first - lo : last - lo]
            return self._triangle()[: stop - start] / total
        weight = np.ones(self.chunk, dtype=np.float32)
        if self.overlap:
            # The fade spans the middle half of the overlap: a chunk's outer
            # quarter-overlap, where the network lacked context, gets no weight.
            quarter = self.overlap / 4
            ramp = (np.arange(self.overlap, dtype=np.float32) + 0.5 - quarter) / (2 * quarter)
            ramp = np.clip(ramp, 0.0, 1.0)
            if index > 0:
                weight[: self.overlap] = ramp
            if index < count - 1:
                weight[-self.overlap :] = ramp[::-1]
        start, stop = self.span(index)
        return weight[: stop - start]

    def _triangle(self) -> np.ndarray:
        """float32 ``(chunk,)``: Demucs' transition weight, 1 in the middle, above 0 at the edges."""
        half = self.chunk // 2
        rising = np.arange(1, half + 1, dtype=np.float32)
        falling = np.arange(self.chunk - half, 0, -1, dtype=np.float32)
        triangle = np.concatenate([rising, falling])
        return (triangle / triangle.max()) ** np.float32(self.transition_power)


def apply_chunked(
    signal: np.ndarray,
    process: Callable[[np.ndarray], np.ndarray],
    outputs: int,
    chunk: int,
    overlap: int,
    batch: int = 1,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    workers: int = 1,
    transition: str = "crossfade",
    transition_power: float = 1.0,
) -> np.ndarray:
    """Run ``process`` over overlapping chunks of ``signal`` and blend the results.

    Args:
        signal: float32 ``(channels, samples)``.
        process: maps a batch ``(b, channels, chunk)`` to ``(b, outputs, channels, chunk)``.
        outputs: how many signals ``process`` returns per chunk (stems).
        chunk: samples per chunk; shorter signals are zero-padded to one chunk.
        overlap: samples shared by consecutive chunks (crossfaded).
        batch: chunks handed to ``process`` at once.
        progress: called with ``(chunks done, chunks total)`` after each batch.
        cancel: checked before each batch; raises :class:`Cancelled` when set.
        workers: batches processed at once in threads (``process`` must be
            thread-safe). Results are still blended in order, so the output
            does not depend on it; at most ``workers`` batches are alive.
        transition, transition_power: how chunks blend (:class:`ChunkPlan`).

    Returns:
        float32 ``(outputs, channels, samples)``. If ``process`` is linear
        and its outputs sum to its input, the outputs sum to ``signal``.
    """
    channels, length = signal.shape
    plan = ChunkPlan(length, chunk, overlap, transition, transition_power)
    starts = plan.starts
    result = np.zeros((outputs, channels, length), dtype=np.float32)
    batches = [range(first, min(first + batch, len(starts))) for first in range(0, len(starts), batch)]

    def run(indices: range) -> np.ndarray:
        pieces = np.zeros((len(indices), channels, chunk), dtype=np.float32)
        for row, index in enumerate(indices):
            first = plan.window_start(index)
            lo, hi = max(first, 0), min(first + chunk, length)
            pieces[row, :, lo - first : hi - first] = signal[:, lo:hi]
        return process(pieces)

    def blend(indices: range, processed: np.ndarray) -> None:
        for row, index in enumerate(indices):
            start, stop = plan.span(index)
            offset = start - plan.window_start(index)
            weight = plan.weight(index, len(starts))
            result[:, :, start:stop] += processed[row, :, :, offset : offset + stop - start] * weight
        if progress:
            progress(indices[-1] + 1, len(starts))

    if progress:
        progress(0, len(starts))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight: deque[tuple[range, Future]] = deque()
        try:
            for indices in batches:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                in_flight.append((indices, pool.submit(run, indices)))
                if len(in_flight) >= workers:
                    done, future = in_flight.popleft()
                    blend(done, future.result())
            while in_flight:
                done, future = in_flight.popleft()
                blend(done, future.result())
        finally:
            for _, future in in_flight:
                future.cancel()
    return result
