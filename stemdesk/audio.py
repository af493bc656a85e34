"""Audio in and out: decode any supported file, resample, write WAV/FLAC atomically.

Every array here is float32 with shape ``(channels, samples)``; the sample rate
travels with it in :class:`Audio`.

Decoding goes through libsndfile (``soundfile``) for the formats it knows and
through FFmpeg (``av``) for the rest, or when libsndfile refuses a file
(:mod:`stemdesk.decoders`, shared with the block decoder). A file
that stops early (a truncated download) decodes to the part that could be
read, and damaged packets in the middle of an FFmpeg-read file are skipped,
both with a logged warning: a musician would rather practise with 3 of 4
minutes than get nothing. A file that yields no samples at all is an error.

Writing always goes to a temporary file beside the target that is renamed
into place (:func:`atomic_path`), so an interrupted write never leaves a
half-written file under the final name.
"""

import errno
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from stemdesk import decoders
from stemdesk.decoders import (MAX_RATE, MIN_RATE, PYAV_SUFFIXES, SOUNDFILE_SUFFIXES, Reader, check_decoded,
                               check_readable_file, read_any, warn_problem)
from stemdesk.errors import StemdeskError
from stemdesk.leftovers import owner_tag

__all__ = ["MAX_RATE", "MIN_RATE", "SUPPORTED_SUFFIXES", "Audio", "atomic_path", "decode", "decode_warnings",
           "resample", "write_audio"]

SUPPORTED_SUFFIXES: frozenset[str] = SOUNDFILE_SUFFIXES | PYAV_SUFFIXES

_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
_WRITE_SUBTYPES = {"WAV": ("PCM_16", "PCM_24", "FLOAT"), "FLAC": ("PCM_16", "PCM_24")}

# Frames per read or write call: bounds the extra memory of transposing and clipping.
_BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True, eq=False)
class Audio:
    """Samples and their rate.

    ``samples`` is float32, shape ``(channels, samples)``, C-contiguous; any
    floating-point 2-D array given is converted (without a copy when it
    already is one). ``rate`` is in Hz.
    """

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim != 2:
            raise ValueError(f"samples must have shape (channels, samples), got shape {samples.shape}")
        if not np.issubdtype(samples.dtype, np.floating):
            # Integer PCM has its own scale; converting it silently would be wrong by 2**15.
            raise TypeError(f"samples must be floating point, got {samples.dtype}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, np.integer)) or self.rate <= 0:
            raise ValueError(f"rate must be a positive integer, got {self.rate!r}")
        object.__setattr__(self, "samples", np.ascontiguousarray(samples, dtype=np.float32))
        object.__setattr__(self, "rate", int(self.rate))

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def num_samples(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.rate


def decode(path: str | os.PathLike) -> Audio:
    """Decode an audio file at its own rate and channel count.

    Returns float32 samples of shape ``(channels, samples)``. Any number of
    channels is accepted; deciding what to do with more than two is the
    caller's business. A file that ends early or has damaged parts returns
    its decodable part, with one logged warning.

    Raises:
        StemdeskError: one line naming the file, when it is missing, a folder,
            empty, not decodable audio, holds no samples or no channels, has
            NaN/infinite samples, or a rate outside MIN_RATE..MAX_RATE.
    """
    source = Path(path)
    check_readable_file(source)
    try:
        reader, samples = read_any(source, _gathered)
    except MemoryError:
        # A header claiming billions of frames asks for an array that cannot be had.
        raise StemdeskError(f"cannot decode '{source}': it is too long to hold in memory") from None
    check_decoded(source, reader, finite=bool(np.isfinite(samples).all()))
    warn_problem(source, reader)
    return Audio(samples, reader.rate)


def _gathered(reader: Reader) -> np.ndarray:
    """All of ``reader``'s blocks in one float32 ``(channels, samples)`` array.

    Filled in place when the header announces the length (libsndfile never
    reads past it), so the song is never held twice (as blocks and joined).
    """
    if not reader.announced:
        blocks = list(reader.blocks())
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((reader.channels, 0), dtype=np.float32)
    samples = np.empty((reader.channels, reader.announced), dtype=np.float32)
    for block in reader.blocks():
        samples[:, reader.length - block.shape[1] : reader.length] = block
    return samples if reader.length == samples.shape[1] else np.ascontiguousarray(samples[:, : reader.length])


@contextmanager
def decode_warnings() -> Iterator[list[str]]:
    """Collect the warnings :func:`decode` logs on this thread inside the block
    (a file that ends early, damaged parts), one line each, for a window to show."""
    handler = _ThreadWarnings()
    decoders.log.addHandler(handler)
    try:
        yield handler.caught
    finally:
        decoders.log.removeHandler(handler)


class _ThreadWarnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.caught: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.caught.append(record.getMessage())


def resample(audio: Audio, rate: int) -> Audio:
    """Resample with soxr's high-quality filter.

    Returns ``audio`` itself when it already has ``rate``; otherwise a new
    :class:`Audio` of float32 ``(channels, round(samples * rate / audio.rate))``.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"rate must be a positive integer, got {rate!r}")
    if rate == audio.rate:
        return audio
    # soxr wants (samples, channels); the transposed view costs no copy on the way in.
    resampled = soxr.resample(audio.samples.T, audio.rate, int(rate), quality="HQ")
    return Audio(np.ascontiguousarray(resampled.T), int(rate))


def write_audio(path: str | os.PathLike, audio: Audio, subtype: str = "PCM_16", gain: float = 1.0) -> Path:
    """Write ``audio`` times ``gain`` as WAV or FLAC (chosen by the suffix) atomically; return the path.

    ``subtype`` is ``"PCM_16"``, ``"PCM_24"`` or, for WAV only, ``"FLOAT"``.
    For PCM the samples are clipped to [-1, 1] here (libsndfile 1.2 clips as
    well, but that is its conversion detail, not a promise); FLOAT keeps them
    as they are. :func:`stemdesk.headroom.clip_free_gain` gives the ``gain``
    that avoids clipping. One channel gives a mono file.

    Raises:
        StemdeskError: unsupported suffix or subtype, or the file cannot be
            written (missing or unwritable folder, disk full...); no file with
            the final name appears then.
        ValueError: the samples contain NaN or infinity (a bug upstream, not
            something to hide in a file).
    """
    target = Path(path)
    container = _WRITE_FORMATS.get(target.suffix.lower())
    if container is None:
        raise StemdeskError(f"cannot write '{target}': only .wav and .flac files can be written")
    if subtype not in _WRITE_SUBTYPES[container]:
        allowed = ", ".join(_WRITE_SUBTYPES[container])
        raise StemdeskError(
            f"cannot write '{target}': {container} takes sample format {allowed}, not {subtype}"
        )
    if not np.isfinite(audio.samples).all():
        raise ValueError(f"refusing to write '{target}': samples contain NaN or infinity")
    clip = subtype != "FLOAT"
    with atomic_path(target) as temp, open(temp, "wb") as raw, signals_held() as deliver_held_signal:
        sink = ErrorKeepingFile(raw)
        try:
            with soundfile.SoundFile(
                sink, "w", samplerate=audio.rate, channels=audio.channels, subtype=subtype, format=container
            ) as sound:
                for start in range(0, audio.num_samples, _BLOCK_FRAMES):
                    block = audio.samples[:, start : start + _BLOCK_FRAMES]
                    if gain != 1.0:
                        block = block * np.float32(gain)
                    if clip:
                        block = np.clip(block, -1.0, 1.0)
                    sound.write(block.T)
                    sink.raise_kept_error()
                    deliver_held_signal()
        # soundfile reports a short write with a bare assert; the OSError
        # behind it was kept by the sink.
        except (AssertionError, soundfile.SoundFileError) as error:
            sink.raise_kept_error()
            raise StemdeskError(f"cannot write '{target}': {error}") from error
        sink.raise_kept_error()
    return target


class ErrorKeepingFile:
    """A file for soundfile's virtual I/O that keeps a failed write's OSError.

    libsndfile only learns that a write came up short and reports a bare
    "system error"; an exception raised inside the C callback would be printed
    and lost. Keeping it lets the caller say "disk full" instead.
    """

    def __init__(self, raw):
        self._raw = raw
        self._error: OSError | None = None

    def write(self, data: bytes) -> int:
        if self._error is not None:
            return 0
        try:
            return self._raw.write(data)
        except OSError as error:
            self._error = error
            return 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # libsndfile seeks back to patch the header after a failed write; an
        # exception here would escape into cffi's callback and be lost.
        try:
            return self._raw.seek(offset, whence)
        except OSError as error:
            self._error = self._error or error
            return -1

    def tell(self) -> int:
        return self._raw.tell()

    def raise_kept_error(self) -> None:
        if self._error is not None:
            raise self._error


@contextmanager
def signals_held() -> Iterator[Callable[[], None]]:
    """Hold SIGINT and SIGTERM while libsndfile calls back into Python; yield a function
    that delivers a held one (to the handler it was meant for) at a safe point.

    Python runs a signal handler in the main thread between any two bytecodes,
    so Ctrl-C's KeyboardInterrupt can start inside soundfile's write callback,
    where cffi prints and swallows it and libsndfile sees a short write. Held,
    it arrives once libsndfile has returned, and unwinds through atomic_path's
    cleanup like any other exception. Other threads get no signals: no-op there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    held: list[tuple[int, object]] = []
    previous = {signum: signal.signal(signum, lambda *received: held.append(received))
                for signum in (signal.SIGINT, signal.SIGTERM)}

    def deliver() -> None:
        if not held:
            return
        signum, frame = held.pop(0)
        for number, handler in previous.items():
            signal.signal(number, handler)
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            # The default action (end the process) once the handler is back in place.
            os.kill(os.getpid(), signum)

    try:
        yield deliver
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        deliver()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file (``.<name>.<owner tag>.part``, created empty with the
    usual permissions; :mod:`stemdesk.leftovers` removes it once a killed
    writer is gone) is flushed to disk and renamed over ``path`` when the
    block ends normally; on any exception, KeyboardInterrupt included, it is
    removed and ``path`` is left as it was. An OSError, from creating the
    temporary file, from the block or from the rename, becomes a one-line
    StemdeskError naming ``path``.
    """
    target = Path(path)
    # The name is cut to 100 bytes, not characters: 100 CJK characters would pass NAME_MAX.
    short_name = os.fsencode(target.name)[:100].decode(errors="ignore")
    temp = target.with_name(f".{short_name}.{owner_tag()}.part")
    try:
        # O_EXCL reserves the name; mode 0o666 lets the umask decide, as for
        # any file the user creates (mkstemp would force 0o600).
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        raise StemdeskError(describe_write_failure(target, error)) from error
    try:
        yield temp
        _flush_to_disk(temp)
        os.replace(temp, target)
    except OSError as error:
        _remove_quietly(temp)
        raise StemdeskError(describe_write_failure(target, error)) from error
    except BaseException:
        _remove_quietly(temp)
        raise


def _flush_to_disk(temp: Path) -> None:
    # Without fsync a power cut after the rename can leave an empty file
    # under the final name on some filesystems.
    descriptor = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(temp: Path) -> None:
    # Cleanup must not hide the error that got us here.
    with suppress(OSError):
        temp.unlink(missing_ok=True)


def describe_write_failure(target: Path, error: OSError) -> str:
    folder = target.parent
    if error.errno in (errno.ENOENT, errno.ENOTDIR) and not folder.is_dir():
        reason = f"'{folder}' is not a folder" if folder.exists() else f"the folder '{folder}' does not exist"
    elif error.errno in (errno.EACCES, errno.EPERM):
        reason = f"no permission to write in '{folder}'"
    elif error.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    elif error.errno == errno.EROFS:
        reason = "the disk is read-only"
    elif error.errno == errno.EISDIR:
        reason = "a folder has that name"
    else:
        reason = error.strerror or str(error)
    return f"cannot write '{target}': {reason}"
