"""The engine of hybrid waveform models (Demucs v4): what Demucs does around its network.

Data flow for one song (shapes for a stereo file, S stems, L samples a segment)::

    Audio (C, N) at the file's rate
      -> resample to the card's rate, mono duplicated to 2 channels  (2, N')
      -> normalised by the mean and std of its channels' average: a first reading
         of the song (decoded again when it comes from a file) takes them, a
         second one is normalised block by block as the segments need it, so
         nothing song-long is held
      -> segments (1, 2, L) via chunking.stream_chunked, Demucs' triangle weights,
         each pass of `shifts` offset by a fraction of a second
      -> per segment: the hybrid STFT (reflect-padded, a quarter-window hop,
         normalised, the Nyquist bin dropped) as complex-as-channels (1, 4, F, T)
      -> ORT -> spectral branch (1, S, 4, F, T) + time branch (1, S, 2, L)
      -> the spectral branch's inverse STFT added to the time branch (S, 2, L)
      -> the segment's residual (its mixture minus the S outputs) split between
         the stems bin by bin in proportion to their power, so the segment's
         stems sum to it (Demucs' raw outputs do not)
      -> blended, scaled back, resampled to the file's rate, averaged to mono
         for a mono file; the rounding left over goes to the card's remainder stem
      -> {stem: Audio (C, N)}, summing to the song

From the blend on, the song goes span by span: a span of the stems is final
(and handed to ``separate``'s ``on_span``, e.g. to be played while the rest
is separated) as soon as the segments over it are done, and it sums to that
span of the song on its own. The stems are the same floats as a pass over
the whole song would give.

One HybridSeparator separates many files, one at a time; it keeps nothing of
a song once ``separate`` returns.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from . import DEMO_SONG, dsp
from .audio import Audio, decode, resample
from .chunking import CancelToken, Cancelled, ChunkPlan, Progress, stream_chunked
from .errors import StemdeskError
from .hybrid_card import HybridCard
from .memory import return_large_allocations_to_os
from .sample_queue import SampleQueue
from .separate import (CUDA, LastRunRelease, Reread, StemSpanHook, check_channels, collect_stems, gpu_name,
                       open_session)
from .song_rate import SongRateStems, StreamResampler


#: The CUDA provider for a hybrid network (written, not measured: no GPU here).
#: Every segment has the same shapes, so cuDNN's exhaustive search for the
#: fastest convolution algorithms is paid once per session and the GPU arena
#: grows by what is asked instead of doubling. The graph runs in float32: no
#: float16 variant has been checked against it (the CPU cannot run one to
#: compare), and Demucs' attention and GroupNorm statistics are where half
#: precision would hurt first.
CUDA_OPTIONS = {
    "cudnn_conv_algo_search": "EXHAUSTIVE",
    "cudnn_conv_use_max_workspace": "1",
    "arena_extend_strategy": "kSameAsRequested",
    "do_copy_in_default_stream": "1",
}


def hybrid_spectrogram(signal: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """The STFT a hybrid network sees: one frame per hop, aligned with the waveform.

    Demucs pads the signal by reflection so that the ``ceil(samples / hop)``
    frames it keeps line up with the time branch's strided layers: 1.5 hops on
    each side (and up to a whole hop more at the end), then the centred STFT's
    own half window, again by reflection; the first and last two frames and
    the Nyquist bin are dropped, and the transform is scaled by ``1 / sqrt(n_fft)``.

    Args:
        signal: float32 ``(channels, samples)``, ``samples > 3 * hop / 2``.
        window: float32 ``(n_fft,)`` Hann window.

    Returns:
        complex64 ``(channels, n_fft // 2, ceil(samples / hop))``.
    """
    frames = -(-signal.shape[-1] // hop)
    pad = hop // 2 * 3
    padded = np.pad(signal, ((0, 0), (pad, pad + frames * hop - signal.shape[-1])), mode="reflect")
    padded = np.pad(padded, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    # dsp.stft centres frame j on sample j * hop of what it is given; the
    # reflection above is the centring, so frame k of Demucs' STFT is j = k + 2
    # and it keeps k = 2 .. frames + 1.
    spec = dsp.stft(padded, n_fft, hop, window)[:, : n_fft // 2, 4 : 4 + frames]
    return spec * np.float32(1 / np.sqrt(n_fft))


def hybrid_inverse(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    """Inverse of :func:`hybrid_spectrogram`.

    Args:
        spec: complex ``(..., n_fft // 2, frames)``.

    Returns:
        float32 ``(..., length)``.
    """
    *lead, bins, frames = spec.shape
    full = np.zeros((int(np.prod(lead)), bins + 1, frames + 4), dtype=np.complex64)
    full[:, :bins, 2 : 2 + frames] = spec.reshape(-1, bins, frames)
    pad = hop // 2 * 3
    padded_length = hop * -(-length // hop) + 2 * pad
    signal = dsp.istft(full * np.float32(np.sqrt(n_fft)), n_fft, hop, window, padded_length)
    return signal[:, pad : pad + length].reshape(*lead, length)


def complex_as_channels(spec: np.ndarray) -> np.ndarray:
    """complex ``(C, F, T)`` -> float32 ``(2C, F, T)``: real and imaginary part of each channel in turn."""
    channels, bins, frames = spec.shape
    return np.stack([spec.real, spec.imag], axis=1).reshape(2 * channels, bins, frames).astype(np.float32)


def channels_as_complex(spec: np.ndarray) -> np.ndarray:
    """float32 ``(..., 2C, F, T)`` -> complex64 ``(..., C, F, T)``; inverse of :func:`complex_as_channels`."""
    *lead, double, bins, frames = spec.shape
    pairs = spec.reshape(*lead, double // 2, 2, bins, frames)
    return (pairs[..., 0, :, :] + 1j * pairs[..., 1, :, :]).astype(np.complex64)


def network_inputs(card: HybridCard, segment: np.ndarray, window: np.ndarray) -> dict[str, np.ndarray]:
    """float32 ``(2, L)`` normalised segment -> the graph's feeds: it and its spectrogram, each with a batch axis."""
    spec = hybrid_spectrogram(segment, card.n_fft, card.hop_length, window)
    return {card.input.waveform: segment[None], card.input.spectrogram: complex_as_channels(spec)[None]}


def demo_calibration(card: HybridCard, segments: int = 2) -> Iterator[dict[str, np.ndarray]]:
    """The graph's feeds for ``segments`` segments of the bundled demo song, from its start to its end,
    normalised as :class:`HybridSeparator` normalises a song: what int8 convolutions are calibrated on."""
    mix = resample(decode(DEMO_SONG), card.sample_rate).samples
    if mix.shape[0] < card.channels:
        mix = np.repeat(mix, card.channels, axis=0)
    reference = mix.mean(axis=0)
    mix = (mix - np.float32(reference.mean())) / np.float32(reference.std(ddof=1) + 1e-8)
    length = card.segment_samples
    window = dsp.hann_window(card.n_fft)
    for start in np.linspace(0, max(0, mix.shape[1] - length), segments).astype(int):
        segment = np.zeros((card.channels, length), dtype=np.float32)
        part = mix[:, start : start + length]
        segment[:, : part.shape[1]] = part
        yield network_inputs(card, segment, window)


def project_residual(stems: np.ndarray, mixture: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """Stems that sum to ``mixture``: what they miss split between them by their power.

    The residual (``mixture`` minus the stems' sum) is added to each stem in
    each STFT bin in proportion to the stem's power there, so a bin's missing
    energy goes to the stems that sound in it (each bin's shares sum to one;
    silent bins share equally). Being linear in the residual, the corrections
    sum back to it exactly.

    Args:
        stems: float32 ``(S, C, L)``.
        mixture: float32 ``(C, L)``.

    Returns:
        float32 ``(S, C, L)``.
    """
    count, channels, length = stems.shape
    residual = mixture - stems.sum(axis=0)
    power = np.abs(dsp.stft(stems.reshape(count * channels, length), n_fft, hop, window))
    shares = dsp.normalise_masks(power.reshape(count, channels, *power.shape[1:]), 2.0)
    residual_spec = dsp.stft(residual, n_fft, hop, window)
    corrections = dsp.istft((shares * residual_spec).reshape(count * channels, *power.shape[1:]), n_fft, hop, window, length)
    return stems + corrections.reshape(count, channels, length)


class SongStatistics(NamedTuple):
    """What the normalisation needs of a whole song, and what it finds on the way."""

    channels: int  # the song's own
    length: int  # samples at the card's rate
    mean: float  # of the channels' average at the card's rate
    std: float  # likewise, ddof=1, plus 1e-8 (1.0 for a song of one sample)


def song_statistics(
    blocks: Iterable[np.ndarray], rate: int, card: HybridCard, cancel: CancelToken | None = None
) -> SongStatistics:
    """One reading of a song (float32 ``(C, n)`` blocks at ``rate``, none kept) -> its :class:`SongStatistics`.

    The song goes to the card's rate by soxr's streaming resampler, as for the
    segments; the mean and std are :class:`RunningMoments`'s, the same floats
    however the song is cut. ``cancel`` is checked between blocks.
    """
    moments = RunningMoments()
    blocks = iter(blocks)
    first = next(blocks, None)
    if first is None:
        raise ValueError("a streamed song needs at least one block")
    channels = np.asarray(first).shape[0]
    check_channels(channels)
    to_net = StreamResampler(rate, card.sample_rate, channels)
    for block in _at_card_rate(itertools.chain([first], blocks), to_net):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        # The channels' mean, element by element, is the same per block as over the whole song.
        moments.push(network_channels(block, card.channels).mean(axis=0))
    length, mean, std = moments.totals()
    return SongStatistics(channels, length, mean, std + 1e-8 if length > 1 else 1.0)


def network_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """``(C, n)`` -> ``(channels, n)``: a mono block duplicated for a stereo network."""
    return np.repeat(block, channels, axis=0) if block.shape[0] < channels else block


class HybridSeparator:
    """Separates audio with a hybrid waveform model (satisfies the StemSeparator protocol).

    Args:
        card: the model to run.
        device: "auto" (GPU when usable), "cpu" or "gpu".
        workers: segments in flight; by default two, so one segment's STFTs
            and residual projection overlap the other's network run, while on
            the CPU only one network run at a time uses every core.
        sum_to_mixture: False gives Demucs' raw outputs (no residual projection,
            the mean added back to every stem): for comparing with Demucs itself.
    """

    def __init__(
        self, card: HybridCard, device: str = "auto", workers: int | None = None, sum_to_mixture: bool = True,
        cores: int | None = None,
    ):
        return_large_allocations_to_os()
        self.card = card
        # Workers share the cores given (all by default) between their runs.
        threads = max(1, (cores or os.cpu_count() or 1) // workers) if workers else (cores or 0)
        self.session = open_session(card, device, threads, reuse_buffers=False, cuda_options=CUDA_OPTIONS,
                                    calibration=lambda: demo_calibration(card))
        self.provider = self.session.get_providers()[0]
        on_gpu = self.provider == CUDA
        self.device_name = gpu_name() if on_gpu else "CPU"
        self.workers = workers or 2
        self._runs = threading.BoundedSemaphore(workers or (2 if on_gpu else 1))
        self.sum_to_mixture = sum_to_mixture
        self._window = dsp.hann_window(card.n_fft)
        # An idle separator would otherwise hold the arena's ~0.6 GB.
        self._release = LastRunRelease()
        self._check_graph()

    @property
    def stems(self) -> tuple[str, ...]:
        return self.card.stems

    def _check_graph(self) -> None:
        """StemdeskError when the graph's tensors are not the ones the card names and shapes."""
        card = self.card
        frames, bins = card.frames, card.n_fft // 2
        expected = {
            card.input.waveform: (1, card.channels, card.segment_samples),
            card.input.spectrogram: (1, 2 * card.channels, bins, frames),
        }
        found = {tensor.name: tuple(tensor.shape) for tensor in self.session.get_inputs()}
        outputs = {tensor.name for tensor in self.session.get_outputs()}
        missing = [name for name in (card.output.spectral, card.output.time) if name not in outputs]
        for name, shape in expected.items():
            given = found.get(name)
            if given is None or any(isinstance(a, int) and a != b for a, b in zip(given, shape)) or len(given) != len(shape):
                missing.append(f"{name} {shape}")
        if missing:
            raise StemdeskError(f"Model {card.id!r} does not have the tensors its card names: {', '.join(missing)}.")

    def separate(
        self,
        audio: Audio,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_span: StemSpanHook | None = None,
        out: np.ndarray | None = None,
    ) -> dict[str, Audio]:
        """Split ``audio`` into the model's stems.

        ``on_span(start, stems)`` is called each time a span of the stems is
        final, in order and without gaps: ``stems`` is float32 ``(S, C, n)``,
        the returned arrays' samples ``[start, start + n)``, already filled.
        The first span is final once the first segment is done (with
        ``shifts``, the first segment of every pass). ``out``: a float32
        ``(S, C, N)`` array to fill and return views of (e.g. one that is
        already being played), instead of a new one.

        Returns:
            ``{stem: Audio}`` in the card's stem order, each with the input's
            rate, channel count and length; the stems sum to ``audio`` (unless
            ``sum_to_mixture`` is off), span by span.
        """
        check_channels(audio.channels)
        return collect_stems(self.stream([audio.samples], audio.rate, progress=progress, cancel=cancel),
                             self.card.stems, audio, on_span, out)

    def stream(
        self,
        blocks: Iterable[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        reread: Reread | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`Separator.stream` for a hybrid model: the song's stems span by span as they are final.

        The normalisation needs the song's mean and std before its first
        segment, so the song is read twice: ``reread()`` (a fresh reading of
        the same song from its start, e.g. the file decoded again) for the
        statistics, then ``blocks`` for the segments, each block let go once
        the segments over it are done: memory does not grow with the song.
        Without ``reread`` (``blocks`` cannot be read again: a preset's later
        step) the blocks are held for both readings (references: float32
        blocks are not copied). A preset that starts with this model still
        plays while it separates; the spans are :meth:`separate`'s, whatever
        the block sizes. ``expected_length`` is not needed (the first reading
        finds the length).

        Raises:
            StemdeskError: the second reading is not as long as the first
                (the song changed in between).
        """
        if reread is None:
            held = [np.asarray(block, dtype=np.float32) for block in blocks]
            blocks, reread = held, lambda: held
        yield from self._spans(blocks, reread(), rate, progress, cancel)

    def _spans(
        self, blocks: Iterable[np.ndarray], first_reading: Iterable[np.ndarray], rate: int,
        progress: Progress | None, cancel: CancelToken | None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, stems)``: float32 ``(S, C, n)`` for samples ``[start, start + n)`` of the song, final, in order.

        ``first_reading`` and ``blocks``: the whole song at ``rate`` as float32
        ``(C, n)`` blocks, in order, read in turn (the first for the
        statistics); they are never changed. The same arithmetic as one pass
        over the whole song, in the same order: the song is taken to the
        card's rate by soxr's streaming resampler (its one-shot samples,
        however the input is cut), its statistics do not depend on the cuts
        (:class:`RunningMoments`), and a span of stems is scaled back,
        averaged to mono and resampled, and the rounding left over goes to the
        remainder stem, all on that span alone.
        """
        card = self.card
        channels, length, mean, std = song_statistics(first_reading, rate, card, cancel)
        count = len(card.stems)
        song_rate = SongRateStems(card.sample_rate, rate, count, count, channels, self._complete)
        offset = np.float32(mean / count if self.sum_to_mixture else mean)

        def normalised() -> Iterator[np.ndarray]:
            """float32 ``(2, n)`` blocks of the normalised mixture at the card's rate, ``length`` samples in all."""
            read = 0
            to_net = StreamResampler(rate, card.sample_rate, channels)
            for block in _at_card_rate(_pushed(blocks, song_rate), to_net):
                read += block.shape[1]
                if read > length:
                    break
                yield (network_channels(block, card.channels) - np.float32(mean)) / np.float32(std)
            if read != length:
                raise StemdeskError(f"The song changed while it was being separated: its second reading has "
                                    f"{'more' if read > length else 'fewer'} samples than its first.")

        readings = _shared(normalised(), max(1, card.shifts))
        for _, span in self._passes(readings, length, progress, cancel):
            span *= np.float32(std)
            span += offset
            if channels < span.shape[1]:
                span = span.mean(axis=1, keepdims=True)
            yield from song_rate.push(span)
        # The last segment may not have needed the song's very end: read for the mixture and the length check.
        for _ in readings[0]:
            pass
        yield from song_rate.finish()

    def _complete(self, stems: np.ndarray, mixture: np.ndarray) -> None:
        """The hybrid kind's :data:`~stemdesk.song_rate.Completion`: ``(S, C, n)`` stems of ``mixture`` ``(C, n)``."""
        if self.sum_to_mixture:
            # Resampling and rounding leave a little: the stems add up to the input exactly.
            stems[self.card.stems.index(self.card.remainder_stem)] += mixture - stems.sum(axis=0)

    def _passes(
        self, readings: list[Iterator[np.ndarray]], length: int, progress: Progress | None,
        cancel: CancelToken | None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """The normalised mixture (``readings``: its float32 ``(2, n)`` blocks, ``length`` samples in all, one
        reading for each pass) -> spans ``(start, (S, 2, n))``, averaged over the card's shifts.

        Pass ``k`` of ``shifts`` runs on the mixture delayed by ``(2k + 1) / (2 shifts)``
        of ``max_shift_seconds`` (Demucs draws the delays at random; evenly
        spread ones make the stems a function of the song alone). The passes
        run side by side, a segment of each in turn, so that a span is out as
        soon as every pass has it (:func:`_averaged`); progress counts the
        segments of all passes. A pass's first segment runs alone: with two
        in flight, each making its spectrogram and then waiting for the
        network, the second got it first in 25 of 60 tries on this 2-core CPU,
        and the song's first sound would wait a whole segment more.
        """
        card = self.card
        passes = max(1, card.shifts)
        max_shift = int(card.max_shift_seconds * card.sample_rate)
        delays = [0] if card.shifts == 0 else [(2 * k + 1) * max_shift // (2 * card.shifts) for k in range(passes)]
        counts = [len(ChunkPlan(length + delay, card.segment_samples, card.overlap_samples, "triangle").starts)
                  for delay in delays]
        self._release.start(sum(counts))
        done = [0] * passes

        def pass_progress(index: int) -> Progress:
            def report(finished: int, _count: int) -> None:
                done[index] = finished
                if progress:
                    progress(sum(done), sum(counts))
            return report

        streams = [
            stream_chunked(
                itertools.chain([np.zeros((card.channels, delay), dtype=np.float32)], reading) if delay else reading,
                self._separate_segments, outputs=len(card.stems), chunk=card.segment_samples,
                overlap=card.overlap_samples, progress=pass_progress(index), cancel=cancel, workers=self.workers,
                length=length + delay, transition="triangle", transition_power=card.transition_power,
                first_alone=True,
            )
            for index, (delay, reading) in enumerate(zip(delays, readings, strict=True))
        ]
        if passes == 1:
            yield from streams[0]
        else:
            yield from _averaged(streams, delays)

    def _separate_segments(self, segments: np.ndarray) -> np.ndarray:
        """``(b, 2, L)`` normalised mixture segments -> ``(b, S, 2, L)``."""
        return np.stack([self._separate_segment(segment) for segment in segments])

    def _separate_segment(self, segment: np.ndarray) -> np.ndarray:
        """float32 ``(2, L)`` -> ``(S, 2, L)``."""
        card = self.card
        feeds = network_inputs(card, segment, self._window)
        run_options = self._release.options()
        with self._runs:
            spectral, time = self.session.run([card.output.spectral, card.output.time], feeds, run_options)
        stems = time[0]
        stems += hybrid_inverse(channels_as_complex(spectral[0]), card.n_fft, card.hop_length, self._window, segment.shape[-1])
        if self.sum_to_mixture:
            stems = project_residual(stems, segment, card.n_fft, card.hop_length, self._window)
        return stems


def _shared(blocks: Iterator[np.ndarray], count: int) -> list[Iterator[np.ndarray]]:
    """``count`` readings of ``blocks``, each block held only until every reading has taken it.

    (``itertools.tee`` keeps the blocks a reading has passed in runs of 57:
    over a minute of a song.)
    """
    queues: list[deque[np.ndarray]] = [deque() for _ in range(count)]

    def reading(own: deque[np.ndarray]) -> Iterator[np.ndarray]:
        while True:
            if not own:
                block = next(blocks, None)
                if block is None:
                    return
                for queue in queues:
                    queue.append(block)
            yield own.popleft()

    return [reading(queue) for queue in queues]


def _pushed(blocks: Iterable[np.ndarray], song_rate: SongRateStems) -> Iterator[np.ndarray]:
    """``blocks`` as float32, each handed to ``song_rate`` as the mixture its stems complete."""
    for block in blocks:
        block = np.asarray(block, dtype=np.float32)
        song_rate.push_mixture(block)
        yield block


def _at_card_rate(blocks: Iterable[np.ndarray], to_net: StreamResampler) -> Iterator[np.ndarray]:
    """``blocks`` (float32 ``(C, n)``) through ``to_net``, and what it holds at their end."""
    for block in blocks:
        yield to_net.push(np.asarray(block, dtype=np.float32))
    yield to_net.finish()


class RunningMoments:
    """The mean and sample standard deviation of a signal pushed in pieces: the same floats however it is cut.

    The signal is taken in windows of ``window`` samples, whatever the pieces,
    each summed in float64 by numpy (pairwise); the windows' counts, means and
    centred sums of squares are merged in order (Chan, Golub and LeVeque's
    update), which keeps float64's precision where a running sum of squares
    would cancel. Holds at most one window.
    """

    def __init__(self, window: int = 1 << 16):
        self._window = window
        self._pending = SampleQueue()
        self._count = 0
        self._mean = 0.0
        self._squares = 0.0  # the sum of squared deviations from the mean

    def push(self, samples: np.ndarray) -> None:
        """The next float32 ``(n,)`` samples."""
        pending = self._pending
        pending.push(samples)
        while pending.end - pending.start >= self._window:
            self._merge(pending.take(pending.start, pending.start + self._window))
            pending.drop_before(pending.start + self._window)

    def totals(self) -> tuple[int, float, float]:
        """``(count, mean, std)`` of everything pushed; the std with ``ddof=1``, 0.0 below two samples."""
        pending = self._pending
        if pending.end > pending.start:
            self._merge(pending.take(pending.start, pending.end))
            pending.drop_before(pending.end)
        std = float(np.sqrt(self._squares / (self._count - 1))) if self._count > 1 else 0.0
        return self._count, self._mean, std

    def _merge(self, piece: np.ndarray) -> None:
        values = piece.astype(np.float64)
        count, mean = values.size, float(values.mean())
        squares = float(np.square(values - mean).sum())
        total = self._count + count
        delta = mean - self._mean
        self._mean += delta * count / total
        self._squares += squares + delta * delta * self._count * count / total
        self._count = total


def _averaged(streams: list[Iterator[tuple[int, np.ndarray]]], delays: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """The mean of the outputs of passes over one signal, span by span as soon as every pass has it.

    Pass ``k``'s spans ``(start, (S, C, n))`` are of the signal delayed by
    ``delays[k]`` samples; those first samples are cut. The pass that lags
    is read next, so the passes advance side by side. A span is the passes'
    sum in their order, divided by their count: the floats of averaging whole
    passes.
    """
    queues = [SampleQueue() for _ in streams]
    live = list(range(len(streams)))
    emitted = 0
    try:
        while live:
            lagging = min(live, key=lambda index: queues[index].end)
            item = next(streams[lagging], None)
            if item is None:
                live.remove(lagging)
                continue
            start, span = item
            cut = max(delays[lagging] - start, 0)
            queues[lagging].push(span[..., cut:])
            ready = min(queue.end for queue in queues)
            if ready > emitted:
                total = queues[0].take(emitted, ready).copy()
                for queue in queues[1:]:
                    total += queue.take(emitted, ready)
                total /= np.float32(len(streams))
                for queue in queues:
                    queue.drop_before(ready)
                yield emitted, total
                emitted = ready
    finally:
        for stream in streams:
            stream.close()


def open_hybrid_separator(
    card: HybridCard, catalogue: object, device: str = "auto", workers: int | None = None, cores: int | None = None
) -> HybridSeparator:
    """The catalogue's way to open a hybrid model (its kind registry calls this)."""
    return HybridSeparator(card, device, workers, cores=cores)
