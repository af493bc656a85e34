"""The engine of hybrid waveform models (Demucs v4): what Demucs does around its network.

Data flow for one song (shapes for a stereo file, S stems, L samples a segment)::

    Audio (C, N) at the file's rate
      -> resample to the card's rate, mono duplicated to 2 channels  (2, N')
      -> normalised by the mean and std of its channels' average (block by block
         as the segments need it: no normalised copy of the whole song)
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
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from . import DEMO_SONG, dsp
from .audio import Audio, decode, resample
from .chunking import CancelToken, ChunkPlan, Progress, stream_chunked
from .errors import StemdeskError
from .hybrid_card import HybridCard
from .memory import return_large_allocations_to_os
from .sample_queue import SampleQueue
from .separate import CUDA, LastRunRelease, StemSpanHook, check_channels, collect_stems, gpu_name, open_session
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
        return collect_stems(self._spans([audio.samples], audio.rate, progress, cancel), self.card.stems, audio,
                             on_span, out)

    def stream(
        self,
        blocks: Iterable[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`Separator.stream` for a hybrid model: the song's stems span by span as they are final.

        Unlike a mask model's, the whole song is read first, since the
        normalisation needs its mean and std: memory holds the song's blocks
        once (and once more at the card's rate when the song's differs), not
        its stems, nor a normalised copy. A preset that starts with
        this model still plays while it separates; the spans are
        :meth:`separate`'s, whatever the block sizes. ``expected_length`` is
        not needed (the song's length is known once read).
        """
        song = [np.asarray(block, dtype=np.float32) for block in blocks]
        check_channels(song[0].shape[0])
        yield from self._spans(song, rate, progress, cancel)

    def _spans(
        self, song: list[np.ndarray], rate: int, progress: Progress | None, cancel: CancelToken | None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, stems)``: float32 ``(S, C, n)`` for samples ``[start, start + n)`` of the song, final, in order.

        ``song``: the whole song at ``rate`` as float32 ``(C, n)`` blocks, in
        order; they are read, never changed, and not copied at the card's
        rate: the normalised mixture is made block by block as the segments
        need it. The same arithmetic as one pass over the whole song, in the
        same order: the song is taken to the card's rate by soxr's streaming
        resampler (its one-shot samples, however the input is cut), and a
        span of stems is scaled back, averaged to mono and resampled, and the
        rounding left over goes to the remainder stem, all on that span alone.
        """
        card = self.card
        channels = song[0].shape[0]
        to_net = StreamResampler(rate, card.sample_rate, channels)
        # At the card's rate these are the song's own blocks: no copy.
        net = [to_net.push(block) for block in song] + [to_net.finish()]

        def network_channels(block: np.ndarray) -> np.ndarray:
            return np.repeat(block, card.channels, axis=0) if block.shape[0] < card.channels else block

        # The mean of the channels, element by element, is the same per block as over the whole
        # song; the mean and std are taken over all of it at once for the whole-song floats.
        reference = np.concatenate([network_channels(block).mean(axis=0) for block in net])
        mean = float(reference.mean())
        std = float(reference.std(ddof=1)) + 1e-8 if reference.size > 1 else 1.0
        length = reference.size
        del reference
        count = len(card.stems)
        song_rate = SongRateStems(card.sample_rate, rate, count, count, channels, self._complete)
        for block in song:
            song_rate.push_mixture(block)
        offset = np.float32(mean / count if self.sum_to_mixture else mean)

        def normalised() -> Iterator[np.ndarray]:
            """float32 ``(2, n)`` blocks of the normalised mixture at the card's rate."""
            for block in net:
                yield (network_channels(block) - np.float32(mean)) / np.float32(std)

        for _, span in self._passes(normalised, length, progress, cancel):
            span *= np.float32(std)
            span += offset
            if channels < span.shape[1]:
                span = span.mean(axis=1, keepdims=True)
            yield from song_rate.push(span)
        yield from song_rate.finish()

    def _complete(self, stems: np.ndarray, mixture: np.ndarray) -> None:
        """The hybrid kind's :data:`~stemdesk.song_rate.Completion`: ``(S, C, n)`` stems of ``mixture`` ``(C, n)``."""
        if self.sum_to_mixture:
            # Resampling and rounding leave a little: the stems add up to the input exactly.
            stems[self.card.stems.index(self.card.remainder_stem)] += mixture - stems.sum(axis=0)

    def _passes(
        self, mix: Callable[[], Iterator[np.ndarray]], length: int, progress: Progress | None,
        cancel: CancelToken | None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """The normalised mixture (``mix()``: its float32 ``(2, n)`` blocks, ``length`` samples in all, afresh
        for each pass) -> spans ``(start, (S, 2, n))``, averaged over the card's shifts.

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
                itertools.chain([np.zeros((card.channels, delay), dtype=np.float32)], mix()) if delay else mix(),
                self._separate_segments, outputs=len(card.stems), chunk=card.segment_samples,
                overlap=card.overlap_samples, progress=pass_progress(index), cancel=cancel, workers=self.workers,
                length=length + delay, transition="triangle", transition_power=card.transition_power,
                first_alone=True,
            )
            for index, delay in enumerate(delays)
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
