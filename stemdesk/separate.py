"""The separation engine: a model card plus an ONNX Runtime session.

Data flow for one song (shapes for a stereo file, S stems)::

    Audio (C, N) at the file's rate
      -> resample to the card's rate, mono duplicated to the net's channels
      -> chunks (b, 2, L) via chunking.apply_chunked (L = segment's samples)
      -> STFT (b, 2, F, T) -> magnitudes of the first `bins` bins, card layout
      -> ORT -> masks (b, S, 2, bins, T) -> normalised across stems
      -> applied to all F bins of the STFT, one stem at a time (bins above
         the net's range take its top bin's mask) -> ISTFT (b, S, 2, L)
      -> crossfaded back to (S - 1, 2, N') -> resampled to the file's rate
      -> the last stem = the mixture minus the others, so that the stems sum
         to the mixture exactly -> {stem: Audio (C, N)}

:meth:`Separator.stream` runs the same pipeline on a song that arrives in
blocks (the resamplers are soxr's streaming ones) and yields the stems span by
span as chunks finish, so a long song never has to be in memory whole;
:meth:`Separator.separate` is that stream over one block.

One Separator separates many files, one at a time (from one thread at a
time); it keeps nothing of a song once ``separate`` returns.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from . import dsp
from .audio import Audio
from .chunking import CancelToken, ChunkPlan, Progress, stream_chunked
from .errors import StemdeskError
from .memory import return_large_allocations_to_os
from .models import ModelCard
from .optimized_models import Calibration, open_cpu_session
from .song_rate import SongRateStems, StreamResampler
from .wiener import wiener_filter

DEVICES = ("auto", "cpu", "gpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def open_session(
    card: ModelCard, device: str = "auto", threads: int = 0, reuse_buffers: bool = True,
    cuda_options: dict | None = None, calibration: Calibration | None = None,
):
    """An ORT session on the card's model: CUDA when asked for and usable, else CPU.

    ``threads``: ORT's intra-op threads on the CPU (0: one per core).
    ``reuse_buffers``: False turns off ORT's planned reuse of one tensor's
    buffer for a later one. The plan keeps a freed buffer alive until the
    tensor meant to reuse it is written, which for a deep network with many
    equal-sized activations holds most of them at once: htdemucs peaked at
    2.5 GB with it and 0.9 GB without, at the same speed (the arena still
    recycles the memory). Threads do not spin between runs either way.
    ``cuda_options``: the CUDA provider's options, when it is used.
    ``calibration``: typical inputs, for a card with int8 convolutions on the CPU
    (:func:`stemdesk.optimized_models.open_cpu_session`).

    ``device="gpu"`` raises StemdeskError when CUDA is not what really runs;
    ``"auto"`` falls back to the CPU quietly.
    """
    import onnxruntime as ort

    if device not in DEVICES:
        raise StemdeskError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    card.verify()
    wants_cuda = device in ("auto", "gpu") and CUDA in ort.get_available_providers()
    if device == "gpu" and not wants_cuda:
        raise StemdeskError("No usable GPU: this onnxruntime has no CUDA provider.")
    if wants_cuda and not nvidia_driver_present():
        # onnxruntime-gpu lists CUDA wherever it is installed; without a driver
        # ORT would try it, fail and fall back, slower and with no cached graph.
        if device == "gpu":
            raise StemdeskError("No usable GPU: no NVIDIA driver found (libcuda cannot be loaded).")
        wants_cuda = False
    providers = [(CUDA, cuda_options or {}), CPU] if wants_cuda else [CPU]
    # A CUDA provider that cannot load (no driver, no GPU) logs a page of
    # errors before ORT falls back; the fallback is reported by `provider`.
    ort.set_default_logger_severity(3 if device == "gpu" else 4)
    # ORT's per-session CPU arena doubles its blocks as it grows and kept
    # ~500 MB for this U-Net; a shared arena that grows by what is asked keeps
    # the speed of reusing memory at a fraction of that (3.6-minute song: 5.9 s
    # and 676 MB peak, against 6.3 s / 764 MB, or 9.4 s / 491 MB without arena).
    _register_cpu_arena(ort)

    def make_options():
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.use_env_allocators", "1")
        options.enable_mem_reuse = reuse_buffers
        if not reuse_buffers:
            # A network this size runs for seconds: spinning threads between
            # runs would only take the cores from the host's STFTs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The memory pattern plans one block for all of a run's activations on top.
        options.enable_mem_pattern = False
        return options

    try:
        if wants_cuda:
            session = ort.InferenceSession(str(card.onnx_path), sess_options=make_options(), providers=providers)
        else:
            session = open_cpu_session(card, make_options, ort, calibration)
    except StemdeskError:
        raise
    except Exception as error:  # ORT raises its own untyped errors for bad files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StemdeskError(f"Model {card.id!r} cannot be loaded from {card.onnx_path}: {first_line}") from None
    if device == "gpu" and session.get_providers()[0] != CUDA:
        raise StemdeskError("No usable GPU: CUDA could not be initialised (driver or libraries missing).")
    return session


def nvidia_driver_present() -> bool:
    """Whether NVIDIA's driver library (what CUDA runs on) can be loaded here."""
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


_cpu_arena_registered = False


def _register_cpu_arena(ort) -> None:
    """Register (once per process) a CPU arena that extends by what is requested."""
    global _cpu_arena_registered
    if _cpu_arena_registered:
        return
    memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    same_as_requested = 1
    ort.create_and_register_allocator(memory, ort.OrtArenaCfg(0, same_as_requested, -1, -1))
    _cpu_arena_registered = True


class LastRunRelease:
    """Run options that hand ORT's CPU arena blocks back on a song's last network run.

    Not on every run: re-faulting those pages each time cost 2 s on a
    3.6-minute song with a mask model, a second per segment with htdemucs.
    :meth:`start` at the start of a song with its number of runs; then
    :meth:`options` before each run (from any worker thread).
    """

    def __init__(self):
        import onnxruntime as ort

        self._release = ort.RunOptions()
        self._release.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._left = 0
        self._lock = threading.Lock()

    def start(self, runs: int) -> None:
        self._left = runs

    def options(self, items: int = 1):
        """The ``RunOptions`` for a run of ``items`` chunks: the releasing ones if it ends the song, else None."""
        with self._lock:
            self._left -= items
            return self._release if self._left <= 0 else None


def gpu_name() -> str:
    """The first NVIDIA GPU's name as nvidia-smi reports it, or a generic label."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()
            if out:
                return out.splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    return "CUDA GPU"


class Separator:
    """Separates audio into the stems of one model.

    Args:
        card: the model to run.
        device: "auto" (GPU when usable), "cpu" or "gpu".
        batch_size: chunks per network call; default 1 on the CPU, 4 on a GPU.
        workers: network runs at once, each in its own thread with its
            chunk. By default two chunks are in flight, so that one chunk's
            STFT, masking and inverse STFT overlap the other's network run,
            but on the CPU only one network run at a time, on every core
            (a 3.6-minute song on 2 cores: 7.4 s at 590 MB peak, against
            8.2 s / 560 MB with one chunk in flight, or 6.7 s / 780 MB with
            two runs of one ORT thread each: each run holds ~100 MB of
            activations). ``workers=N`` runs N chunks at once, the cores
            shared between them. On a GPU two runs at once by default.
        overlap_frames: at least this many STFT hops shared by consecutive
            chunks and crossfaded; default a sixteenth of the model's segment
            (63 hops for Spleeter once the step is rounded to its grid).
            Chunks start on the card's ``frame_multiple`` grid: a network with
            strided layers gives different outputs for inputs shifted by a
            fraction of its total stride, so off-grid chunks would disagree
            with a whole-song pass (measured: 23 dB instead of 32 dB SDR).
        cores: CPU cores this separator may keep busy (default: all), e.g. a
            share of them when several songs are separated at once.
    """

    def __init__(
        self,
        card: ModelCard,
        device: str = "auto",
        batch_size: int | None = None,
        workers: int | None = None,
        overlap_frames: int | None = None,
        cores: int | None = None,
    ):
        return_large_allocations_to_os()
        self.card = card
        # Workers asked for share the cores between their runs.
        if workers:
            threads = max(1, (cores or os.cpu_count() or 1) // workers)
        else:
            threads = cores or 0
        self.session = open_session(card, device, threads)
        self.provider = self.session.get_providers()[0]
        on_gpu = self.provider == CUDA
        self.workers = workers or 2
        self._runs = threading.BoundedSemaphore(workers or (2 if on_gpu else 1))
        self.device_name = gpu_name() if on_gpu else "CPU"
        self.batch_size = batch_size or (4 if on_gpu else 1)
        overlap_frames = card.segment_frames // 16 if overlap_frames is None else overlap_frames
        chunk_hops = card.segment_frames - 1
        step = (chunk_hops - overlap_frames) // card.frame_multiple * card.frame_multiple
        self.overlap = (chunk_hops - max(step, card.frame_multiple)) * card.hop_length
        self._window = dsp.hann_window(card.n_fft)
        # An idle Separator (the app keeps one) would otherwise hold ~100 MB.
        self._release = LastRunRelease()
        self._input_order = _axis_order(("batch", "channels", "frames", "bins"), card.input.layout)
        self._output_order = _axis_order(card.output.layout, ("batch", "stems", "channels", "bins", "frames"))

    @property
    def stems(self) -> tuple[str, ...]:
        return self.card.stems

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
        ``out``: a float32 ``(S, C, N)`` array to fill and return views of
        (e.g. one that is already being played), instead of a new one.

        Returns:
            ``{stem: Audio}`` in the card's stem order, each with the input's
            rate, channel count and length; the stems sum to ``audio``.
        """
        check_channels(audio.channels)
        spans = self.stream([audio.samples], audio.rate, audio.num_samples, progress, cancel)
        return collect_stems(spans, self.card.stems, audio, on_span, out)

    def stream(
        self,
        blocks: Iterable[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        reread: Reread | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Separate a song that arrives block by block, yielding stems as they are final.

        Args:
            blocks: float32 ``(C, n)`` pieces of the song in order, at ``rate``
                (C is 1 or 2); read only as far as the next chunk needs.
            rate: the song's sample rate.
            expected_length: samples the song is thought to have (a header's
                count); it only sizes ``progress``'s total.
            reread: a fresh reading of the same song, for an engine that must
                see all of it before its first span (see :data:`Reread`); a
                mask model reads the song once, as it comes, and needs none.

        Yields:
            ``(start, stems)``: float32 ``(S, C, n)`` in the card's stem order
            for samples ``[start, start + n)`` of the song, in order and
            without gaps, together as long as the song; each span's stems
            sum to that span of the song exactly. Memory stays bounded by a
            chunk or two whatever the song's length, and the stems are
            bit-identical to :meth:`separate`'s whatever the block sizes
            (soxr's streaming resampler gives the same samples as its
            one-shot one, however its input is cut).
        """
        card = self.card
        blocks = iter(blocks)
        first = np.asarray(next(blocks), dtype=np.float32)
        channels = first.shape[0]
        check_channels(channels)
        others = len(card.stems) - 1
        song_rate = SongRateStems(card.sample_rate, rate, len(card.stems), others, channels, _last_stem_is_the_rest)
        to_net = StreamResampler(rate, card.sample_rate, channels)
        net_expected = round(expected_length * card.sample_rate / rate) if expected_length else None

        def net_blocks() -> Iterator[np.ndarray]:
            for block in itertools.chain([first], blocks):
                block = np.asarray(block, dtype=np.float32)
                song_rate.push_mixture(block)
                yield self._to_net_channels(to_net.push(block))
            yield self._to_net_channels(to_net.finish())

        self._release.start(len(ChunkPlan(net_expected or 1, card.chunk_samples, self.overlap).starts))
        computed = stream_chunked(
            net_blocks(),
            self._separate_chunks,
            outputs=others,
            chunk=card.chunk_samples,
            overlap=self.overlap,
            batch=self.batch_size,
            progress=progress,
            cancel=cancel,
            workers=self.workers,
            expected_length=net_expected,
        )
        for _, span in computed:
            if channels < span.shape[1]:
                span = span.mean(axis=1, keepdims=True)
            yield from song_rate.push(span)
        yield from song_rate.finish()

    def _to_net_channels(self, block: np.ndarray) -> np.ndarray:
        """``(C, n)`` at the card's rate -> the net's channel count (mono duplicated)."""
        if block.shape[0] < self.card.channels:
            return np.repeat(block, self.card.channels, axis=0)
        return block

    def _separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """``(b, C, L)`` mixture chunks -> ``(b, S - 1, C, L)``: every stem but the last."""
        card = self.card
        batch, channels, length = chunks.shape
        spec = dsp.stft(chunks.reshape(batch * channels, length), card.n_fft, card.hop_length, self._window)
        spec = spec.reshape(batch, channels, *spec.shape[1:])
        magnitude = np.abs(spec[:, :, : card.bins, :]).transpose(0, 1, 3, 2)
        net_input = np.ascontiguousarray(magnitude.transpose(self._input_order))
        run_options = self._release.options(batch)
        with self._runs:
            (estimates,) = self.session.run([card.output.name], {card.input.name: net_input}, run_options)
        estimates = estimates.transpose(self._output_order)
        masks = dsp.normalise_masks(estimates.transpose(1, 0, 2, 3, 4), card.mask_power)
        # A generator: one stem at a time, since a full-band masked spectrogram
        # of every stem at once would be the largest array of the separation.
        masked = (dsp.apply_mask(spec, mask) for mask in masks)
        if card.postfilter:
            iterations = card.postfilter.iterations
            masked = np.stack(list(masked))  # (S, b, C, F, T): the filter needs all stems
            for item in range(batch):
                masked[:, item] = wiener_filter(masked[:, item], spec[item], iterations)
        stems = np.empty((len(card.stems) - 1, batch, channels, length), dtype=np.float32)
        for index, stem_spec in zip(range(len(stems)), masked):
            stems[index] = self._istft(stem_spec, length)
        return stems.transpose(1, 0, 2, 3)

    def _istft(self, spec: np.ndarray, length: int) -> np.ndarray:
        """complex ``(b, C, F, T)`` -> float32 ``(b, C, length)``."""
        batch, channels = spec.shape[:2]
        flat = spec.reshape(batch * channels, *spec.shape[2:])
        signal = dsp.istft(flat, self.card.n_fft, self.card.hop_length, self._window, length)
        return signal.reshape(batch, channels, length)


StemSpanHook = Callable[[int, np.ndarray], None]

#: ``reread()``: the song again from its start, as float32 ``(C, n)`` blocks at its rate (any
#: sizes), without keeping the reading before (a file decoded again), for a separator's
#: ``stream`` that needs the whole song's statistics before its first span (the hybrid
#: kind's normalisation). A caller whose blocks cannot be read again passes none, and such
#: a separator then holds the blocks.
Reread = Callable[[], Iterable[np.ndarray]]


def collect_stems(
    spans: Iterable[tuple[int, np.ndarray]],
    names: tuple[str, ...],
    audio: Audio,
    on_span: StemSpanHook | None = None,
    out: np.ndarray | None = None,
) -> dict[str, Audio]:
    """A separator's streamed spans ``(start, (S, C, n))`` gathered into whole stems of ``audio``.

    ``out`` (float32 ``(S, C, N)``) is filled instead of a new array;
    ``on_span(start, view)`` follows each span once it is in place.
    """
    shape = (len(names), audio.channels, audio.num_samples)
    if out is not None and (out.shape != shape or out.dtype != np.float32):
        raise ValueError(f"out must be float32 {shape}, not {out.dtype} {out.shape}")
    stems = np.empty(shape, dtype=np.float32) if out is None else out
    for start, span in spans:
        stop = start + span.shape[-1]
        stems[:, :, start:stop] = span
        if on_span is not None:
            on_span(start, stems[:, :, start:stop])
    return {name: Audio(stem, audio.rate) for name, stem in zip(names, stems)}


def _last_stem_is_the_rest(stems: np.ndarray, mixture: np.ndarray) -> None:
    """The mask kind's :data:`~stemdesk.song_rate.Completion`: the last stem is the mixture minus the others.

    Its masks sum with theirs to one, so this is what masking would give; but
    the stems add up to the input exactly, whatever resampling and rounding
    did, and one stem fewer is inverted and held while chunks run.
    """
    last = mixture.copy()
    for stem in stems[:-1]:
        last -= stem
    stems[-1] = last


def check_channels(channels: int) -> None:
    """StemdeskError unless ``channels`` is 1 or 2 (every engine separates mono or stereo)."""
    if channels not in (1, 2):
        raise StemdeskError(
            f"Audio has {channels} channels; stemdesk separates mono or stereo (downmix it to stereo first)."
        )


def open_mask_separator(
    card: ModelCard, catalogue, device: str, workers: int | None, cores: int | None = None
) -> Separator:
    """The mask kind's entry in :data:`stemdesk.separators.KINDS` (``catalogue`` unused: a mask model stands alone)."""
    return Separator(card, device=device, workers=workers, cores=cores)


def _axis_order(source: tuple[str, ...], target: tuple[str, ...]) -> tuple[int, ...]:
    """Permutation that turns an array laid out as ``source`` into ``target``."""
    return tuple(source.index(axis) for axis in target)


def rest_of(stems: dict[str, Audio], stem: str, mixture: Audio) -> Audio:
    """Everything but ``stem``: the mixture minus that stem, in the time domain."""
    return Audio(mixture.samples - stems[stem].samples, mixture.rate)

