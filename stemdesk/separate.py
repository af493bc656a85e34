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

The Separator holds no per-song state: one instance can separate many files,
from one thread at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

from . import dsp
from .audio import Audio, resample
from .chunking import CancelToken, Progress, apply_chunked
from .errors import StemdeskError
from .memory import return_large_allocations_to_os
from .wiener import wiener_filter
from .models import ModelCard

DEVICES = ("auto", "cpu", "gpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def open_session(card: ModelCard, device: str = "auto", threads: int = 0):
    """An ORT session on the card's model: CUDA when asked for and usable, else CPU.

    ``threads`` is ORT's intra-op thread count (0: its default).

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
    providers = [CUDA, CPU] if wants_cuda else [CPU]
    # A CUDA provider that cannot load (no driver, no GPU) logs a page of
    # errors before ORT falls back; the fallback is reported by `provider`.
    ort.set_default_logger_severity(3 if device == "gpu" else 4)
    options = ort.SessionOptions()
    # Without the arena, activations are returned after each run instead of
    # being kept for the session's life: measured peak RSS for a 3.6-minute
    # song drops by hundreds of MB at no measurable cost in speed.
    options.enable_cpu_mem_arena = False
    # The memory pattern preallocates every activation of a run in one block;
    # without it a run's peak is ~50 MB lower, at no measurable speed cost.
    options.enable_mem_pattern = False
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(card.onnx_path), sess_options=options, providers=providers)
    except Exception as error:  # ORT raises its own untyped errors for bad files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StemdeskError(f"Model {card.id!r} cannot be loaded from {card.onnx_path}: {first_line}") from None
    if device == "gpu" and session.get_providers()[0] != CUDA:
        raise StemdeskError("No usable GPU: CUDA could not be initialised (driver or libraries missing).")
    return session


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
        workers: chunks in flight at once, each in its own thread; default
            ``min(cores, 4)``. On the CPU each network run then gets
            ``cores // workers`` ORT threads: chunk-level parallelism scales
            better than ORT's intra-op threads on this network. On a GPU the
            workers overlap one chunk's STFT work with another's network run.
        overlap_frames: at least this many STFT hops shared by consecutive
            chunks and crossfaded; default a sixteenth of the model's segment
            (63 hops for Spleeter once the step is rounded to its grid).
            Chunks start on the card's ``frame_multiple`` grid: a network with
            strided layers gives different outputs for inputs shifted by a
            fraction of its total stride, so off-grid chunks would disagree
            with a whole-song pass (measured: 23 dB instead of 32 dB SDR).
    """

    def __init__(
        self,
        card: ModelCard,
        device: str = "auto",
        batch_size: int | None = None,
        workers: int | None = None,
        overlap_frames: int | None = None,
    ):
        return_large_allocations_to_os()
        cores = os.cpu_count() or 1
        self.workers = workers or min(cores, 4)
        self.card = card
        self.session = open_session(card, device, threads=max(1, cores // self.workers))
        self.provider = self.session.get_providers()[0]
        on_gpu = self.provider == CUDA
        self.device_name = gpu_name() if on_gpu else "CPU"
        self.batch_size = batch_size or (4 if on_gpu else 1)
        overlap_frames = card.segment_frames // 16 if overlap_frames is None else overlap_frames
        chunk_hops = card.segment_frames - 1
        step = (chunk_hops - overlap_frames) // card.frame_multiple * card.frame_multiple
        self.overlap = (chunk_hops - max(step, card.frame_multiple)) * card.hop_length
        self._window = dsp.hann_window(card.n_fft)
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
    ) -> dict[str, Audio]:
        """Split ``audio`` into the model's stems.

        Returns:
            ``{stem: Audio}`` in the card's stem order, each with the input's
            rate, channel count and length; the stems sum to ``audio``.
        """
        if audio.channels not in (1, 2):
            raise StemdeskError(
                f"Audio has {audio.channels} channels; stemdesk separates mono or stereo "
                "(downmix it to stereo first)."
            )
        net_audio = resample(audio, self.card.sample_rate).samples
        if net_audio.shape[0] < self.card.channels:
            net_audio = np.repeat(net_audio, self.card.channels, axis=0)
        computed = apply_chunked(
            net_audio,
            self._separate_chunks,
            outputs=len(self.card.stems) - 1,
            chunk=self.card.chunk_samples,
            overlap=self.overlap,
            batch=self.batch_size,
            progress=progress,
            cancel=cancel,
            workers=self.workers,
        )
        if audio.channels < computed.shape[1]:
            computed = computed.mean(axis=1, keepdims=True)
        computed = self._to_rate(computed, audio)
        # The last stem is the mixture minus the others. Its masks sum with
        # theirs to one, so this is what masking would give; but the stems now
        # add up to the input exactly, whatever resampling and rounding did,
        # and one stem fewer is inverted and held while chunks run.
        last = audio.samples.copy()
        for stem in computed:
            last -= stem
        return {name: Audio(stem, audio.rate) for name, stem in zip(self.card.stems, [*computed, last])}

    def _to_rate(self, stems: np.ndarray, audio: Audio) -> np.ndarray:
        """``(S, C, N')`` at the card's rate -> ``(S, C, N)`` at ``audio``'s rate and length."""
        if audio.rate == self.card.sample_rate:
            return stems
        out = np.zeros((stems.shape[0],) + audio.samples.shape, dtype=np.float32)
        for index, stem in enumerate(stems):
            back = resample(Audio(stem, self.card.sample_rate), audio.rate).samples
            length = min(back.shape[1], audio.num_samples)
            out[index, :, :length] = back[:, :length]
        return out

    def _separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """``(b, C, L)`` mixture chunks -> ``(b, S - 1, C, L)``: every stem but the last."""
        card = self.card
        batch, channels, length = chunks.shape
        spec = dsp.stft(chunks.reshape(batch * channels, length), card.n_fft, card.hop_length, self._window)
        spec = spec.reshape(batch, channels, *spec.shape[1:])
        magnitude = np.abs(spec[:, :, : card.bins, :]).transpose(0, 1, 3, 2)
        net_input = np.ascontiguousarray(magnitude.transpose(self._input_order))
        (estimates,) = self.session.run([card.output.name], {card.input.name: net_input})
        estimates = estimates.transpose(self._output_order)
        masks = dsp.normalise_masks(estimates.transpose(1, 0, 2, 3, 4), card.mask_power)
        # A generator: one stem at a time, since a full-band masked spectrogram
        # of every stem at once would be the largest array of the separation.
        masked = (dsp.apply_mask(spec, mask) for mask in masks)
        if card.postfilter:
            iterations = int(card.postfilter.get("iterations", 1))
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


def _axis_order(source: tuple[str, ...], target: tuple[str, ...]) -> tuple[int, ...]:
    """Permutation that turns an array laid out as ``source`` into ``target``."""
    return tuple(source.index(axis) for axis in target)


def rest_of(stems: dict[str, Audio], stem: str, mixture: Audio) -> Audio:
    """Everything but ``stem``: the mixture minus that stem, in the time domain."""
    return Audio(mixture.samples - stems[stem].samples, mixture.rate)

