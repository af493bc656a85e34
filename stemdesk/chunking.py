"""Process a long signal in fixed-size overlapping chunks and crossfade them back.

This is the only place where inference mechanics over time live: the
Separator, the tests and the benchmarks all go through :func:`apply_chunked`.
Chunks have a fixed length (a network's segment), overlap by ``overlap``
samples and are blended with linear crossfades (or Demucs' triangle weights,
for a network trained with them), so a chunk's unreliable edges fade out and
no seam is audible. Outputs are written into one preallocated
array; only ``batch`` chunks are alive at a time, which bounds memory.

Both ends can stream: :func:`stream_chunked` reads its input block by block
and yields each span of output as soon as no later chunk can change it (up to
the next chunk's start), which is what writing a long song's stems to disk,
or playing them while they are computed, needs. :func:`apply_chunked` is that
stream collected into one array, with an ``on_span`` hook for the same spans.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
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
        start, stop = self.span(index)
        return _crossfade(self.chunk, self.overlap, first=index == 0, last=index == count - 1)[: stop - start]

    def _triangle(self) -> np.ndarray:
        """float32 ``(chunk,)``: Demucs' transition weight, 1 in the middle, above 0 at the edges."""
        half = self.chunk // 2
        rising = np.arange(1, half + 1, dtype=np.float32)
        falling = np.arange(self.chunk - half, 0, -1, dtype=np.float32)
        triangle = np.concatenate([rising, falling])
        return (triangle / triangle.max()) ** np.float32(self.transition_power)


def _crossfade(chunk: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """float32 ``(chunk,)`` crossfade weights: fade in unless ``first``, fade out unless ``last``."""
    weight = np.ones(chunk, dtype=np.float32)
    if overlap:
        # The fade spans the middle half of the overlap: a chunk's outer
        # quarter-overlap, where the network lacked context, gets no weight.
        quarter = overlap / 4
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5 - quarter) / (2 * quarter)
        ramp = np.clip(ramp, 0.0, 1.0)
        if not first:
            weight[:overlap] = ramp
        if not last:
            weight[-overlap:] = ramp[::-1]
    return weight


SpanHook = Callable[[int, np.ndarray], None]


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
    on_span: SpanHook | None = None,
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
        on_span: called as ``on_span(start, span)`` each time a span of the
            result becomes final, in order and without gaps: ``span`` is the
            float32 ``(outputs, channels, n)`` view of the returned array at
            samples ``[start, start + n)``, already filled. Lets a caller play
            or write stems while later chunks are still running.

    Returns:
        float32 ``(outputs, channels, samples)``. If ``process`` is linear
        and its outputs sum to its input, the outputs sum to ``signal``.
    """
    channels, length = signal.shape
    result = np.zeros((outputs, channels, length), dtype=np.float32)
    spans = stream_chunked(
        [signal], process, outputs, chunk, overlap, batch=batch, progress=progress, cancel=cancel,
        workers=workers, length=length, transition=transition, transition_power=transition_power,
    )
    for start, span in spans:
        stop = start + span.shape[-1]
        result[:, :, start:stop] = span
        if on_span is not None:
            on_span(start, result[:, :, start:stop])
    return result


def stream_chunked(
    blocks: Iterable[np.ndarray],
    process: Callable[[np.ndarray], np.ndarray],
    outputs: int,
    chunk: int,
    overlap: int,
    batch: int = 1,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    workers: int = 1,
    expected_length: int | None = None,
    length: int | None = None,
    transition: str = "crossfade",
    transition_power: float = 1.0,
    first_alone: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`apply_chunked` over a signal that arrives block by block.

    ``blocks`` yields float32 ``(channels, n)`` pieces of one signal in order
    (any sizes); they are read only as far as the next chunk needs, and at
    most a chunk of input and a chunk of output are held besides the blocks
    in flight, so memory does not grow with the signal's length.

    Yields ``(start, span)``: float32 ``(outputs, channels, n)`` output for
    samples ``[start, start + n)``, final, in order and without gaps, ending
    at the signal's length. The same arithmetic in the same order as a
    whole-signal run, so the outputs are bit-identical to :func:`apply_chunked`
    whatever the block sizes.

    ``length``: the signal's exact length, when known; the ``triangle``
    transition needs it (its weights depend on the chunks around the end),
    ``crossfade`` does without, finding the end as the blocks run out.
    ``expected_length`` (e.g. a file header's frame count) only sizes the
    progress total, which grows if the signal is longer. The other
    arguments are as for :func:`apply_chunked`.

    ``first_alone``: the first batch is processed by itself, the next ones
    submitted only once it is done (and before its span is handed out), so
    that the first span -- what someone playing the song waits for -- comes
    as soon as the cores can make it. Otherwise the second batch starts with
    it and, when both wait for one network, is as likely to get it first.
    The outputs are the same either way.
    """
    step = chunk - overlap
    plan = ChunkPlan(length, chunk, overlap, transition, transition_power) if length is not None else None
    if plan is None:
        ChunkPlan(0, chunk, overlap, transition, transition_power)  # validates the arguments
        if transition != "crossfade":
            raise ValueError(f"the {transition!r} transition needs the signal's length")
    window = _InputWindow(iter(blocks))
    if plan is not None:
        count = len(plan.starts)
    total = count if plan is not None else len(ChunkPlan(expected_length or 1, chunk, overlap).starts)
    accumulator: np.ndarray | None = None  # output from sample `emitted` on, (outputs, channels, chunk)
    emitted = 0
    next_index = 0
    done = False

    def cut(index: int) -> tuple[int, int, int, np.ndarray, bool]:
        """Chunk ``index`` as (start, stop, window start, weights over its span, is last)."""
        if plan is not None:
            start, stop = plan.span(index)
            first = plan.window_start(index)
            window.fill_to(first + chunk)
            return start, stop, first, plan.weight(index, count), index == count - 1
        start = index * step
        # One sample past the chunk tells whether another chunk follows.
        window.fill_to(start + chunk + 1)
        last = window.ended and window.end <= start + chunk
        stop = window.end if last else start + chunk
        return start, stop, start, _crossfade(chunk, overlap, first=index == 0, last=last)[: stop - start], last

    def next_batch() -> list | None:
        """Up to ``batch`` chunks as (start, stop, window start, weights, is last, input ``(channels, chunk)``)."""
        nonlocal next_index, done
        pieces = []
        while not done and len(pieces) < batch:
            start, stop, first, weight, last = cut(next_index)
            pieces.append((start, stop, first, weight, last, window.read(first, chunk)))
            if not last:
                following = plan.window_start(next_index + 1) if plan is not None else start + step
                window.discard_before(following)
            next_index += 1
            done = last
        return pieces or None

    def run(pieces) -> np.ndarray:
        return process(np.stack([piece[-1] for piece in pieces]))

    def blend(pieces, processed: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        nonlocal accumulator, emitted, total
        for row, (start, stop, first, weight, last, _) in enumerate(pieces):
            if accumulator is None:
                accumulator = np.zeros((outputs, window.channels, chunk), dtype=np.float32)
            offset, into = start - first, start - emitted
            accumulator[:, :, into : into + stop - start] += processed[row, :, :, offset : offset + stop - start] * weight
            # Later chunks start at or after the next step: what lies before it is final.
            final = stop if last else start + step
            if final > emitted:
                size = final - emitted
                yield emitted, accumulator[:, :, :size].copy()
                accumulator[:, :, : chunk - size] = accumulator[:, :, size:]
                accumulator[:, :, chunk - size :] = 0.0
                emitted = final
        # Every chunk is known once the last one is cut; before that, one more at least.
        total = next_index if done else max(total, next_index + 1)
        if progress:
            progress(pieces[-1][0] // step + 1, total)

    if progress:
        progress(0, total)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight: deque[tuple[list, Future]] = deque()
        try:
            while True:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                pieces = next_batch()
                if pieces is None:
                    break
                in_flight.append((pieces, pool.submit(run, pieces)))
                if first_alone:
                    first_alone = False
                    in_flight[0][1].result()  # blended once the next batches are under way
                    continue
                if len(in_flight) >= workers:
                    ready, future = in_flight.popleft()
                    yield from blend(ready, future.result())
            while in_flight:
                ready, future = in_flight.popleft()
                yield from blend(ready, future.result())
        finally:
            for _, future in in_flight:
                future.cancel()


class _InputWindow:
    """The blocks of a streamed signal that chunks still need, read on demand."""

    def __init__(self, blocks: Iterator[np.ndarray]):
        self._blocks = blocks
        self._held: deque[tuple[int, np.ndarray]] = deque()  # (first sample, block)
        self.end = 0  # samples read so far
        self.ended = False
        self.channels: int | None = None

    def fill_to(self, position: int) -> None:
        """Read blocks until ``position`` samples are in or the signal ends."""
        while not self.ended and self.end < position:
            block = next(self._blocks, None)
            if block is None:
                self.ended = True
                break
            block = np.asarray(block, dtype=np.float32)
            if block.ndim != 2 or block.shape[0] != (self.channels or block.shape[0]):
                raise ValueError(f"block of shape {block.shape} does not continue a {self.channels}-channel signal")
            self.channels = block.shape[0]
            if block.shape[1]:
                self._held.append((self.end, block))
                self.end += block.shape[1]
        if self.channels is None:
            raise ValueError("a streamed signal needs at least one block")

    def read(self, start: int, count: int) -> np.ndarray:
        """float32 ``(channels, count)``: samples ``[start, start + count)``, zeros outside the signal."""
        piece = np.zeros((self.channels, count), dtype=np.float32)
        for first, block in self._held:
            low, high = max(start, first), min(start + count, first + block.shape[1])
            if low < high:
                piece[:, low - start : high - start] = block[:, low - first : high - first]
        return piece

    def discard_before(self, position: int) -> None:
        """Forget the blocks that end before ``position``."""
        while self._held and self._held[0][0] + self._held[0][1].shape[1] <= position:
            self._held.popleft()
