"""Audio in and out: decode any supported file, resample, write WAV/FLAC atomically.

Every array here is float32 with shape ``(channels, samples)``; the sample rate
travels with it in :class:`Audio`.

Decoding goes through libsndfile (``soundfile``) for the formats it knows and
through FFmpeg (``av``) for the rest, or when libsndfile refuses a file. A file
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
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from stemdesk.errors import StemdeskError
from stemdesk.leftovers import owner_tag

log = logging.getLogger(__name__)

MIN_RATE, MAX_RATE = 8_000, 192_000

# Read by libsndfile first; FFmpeg is the fallback for these and the only
# reader for the others.
_SOUNDFILE_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
_PYAV_SUFFIXES = frozenset({".m4a", ".aac", ".opus", ".mp4", ".m4v", ".mov", ".webm", ".mka", ".mkv", ".wma"})
SUPPORTED_SUFFIXES: frozenset[str] = _SOUNDFILE_SUFFIXES | _PYAV_SUFFIXES

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
    _check_readable_file(source)
    try:
        samples, rate, problem = _read_any(source)
    except MemoryError:
        # A header claiming billions of frames asks for an array that cannot be had.
        raise StemdeskError(f"cannot decode '{source}': it is too long to hold in memory") from None
    if samples.shape[0] == 0:
        raise StemdeskError(f"cannot use '{source}': it has no audio channels")
    if samples.shape[1] == 0:
        raise StemdeskError(f"cannot use '{source}': it holds no audio (0 samples)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise StemdeskError(
            f"cannot use '{source}': its sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz"
        )
    if not np.isfinite(samples).all():
        raise StemdeskError(f"cannot use '{source}': it contains NaN or infinite samples")
    if problem:
        log.warning("'%s' %s; using the %.2f s that could be read", source, problem, samples.shape[1] / rate)
    return Audio(samples, rate)


@contextmanager
def decode_warnings() -> Iterator[list[str]]:
    """Collect the warnings :func:`decode` logs on this thread inside the block
    (a file that ends early, damaged parts), one line each, for a window to show."""
    handler = _ThreadWarnings()
    log.addHandler(handler)
    try:
        yield handler.caught
    finally:
        log.removeHandler(handler)


class _ThreadWarnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.caught: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.caught.append(record.getMessage())


def _read_any(source: Path) -> tuple[np.ndarray, int, str | None]:
    """libsndfile for its formats, FFmpeg for the rest and for what libsndfile refuses or cuts short."""
    samples, rate, problem = None, 0, None
    if source.suffix.lower() in _SOUNDFILE_SUFFIXES:
        with suppress(soundfile.SoundFileError):
            samples, rate, problem = _read_with_soundfile(source)
        if samples is not None and problem:
            # libsndfile stops at the first damaged MP3 frame; FFmpeg skips it and goes on.
            with suppress(StemdeskError):
                other, other_rate, other_problem = _read_with_pyav(source)
                if other.shape[1] > samples.shape[1] and other.shape[0] == samples.shape[0]:
                    samples, rate, problem = other, other_rate, other_problem or problem
    if samples is None:
        samples, rate, problem = _read_with_pyav(source)
    return samples, rate, problem


def _check_readable_file(source: Path) -> None:
    if source.is_dir():
        raise StemdeskError(f"cannot read '{source}': it is a folder, not an audio file")
    try:
        if not stat.S_ISREG(source.stat().st_mode):
            # A pipe or a device would block the read below, or never end.
            raise StemdeskError(f"cannot read '{source}': it is not a regular file (a pipe or a device?)")
        with open(source, "rb") as handle:
            empty = not handle.read(1)
    except FileNotFoundError:
        raise StemdeskError(f"cannot read '{source}': no such file") from None
    except OSError as error:
        raise StemdeskError(f"cannot read '{source}': {error.strerror}") from error
    if empty:
        raise StemdeskError(f"cannot read '{source}': the file is empty")


# libsndfile's log of a WAV/AIFF whose header claims more data than the file holds.
_SHORT_CHUNK = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _read_with_soundfile(source: Path) -> tuple[np.ndarray, int, str | None]:
    """Samples ``(channels, samples)`` float32, rate, and what was wrong with the file (or None), via libsndfile."""
    notes: list[str] = []
    # As bytes: soundfile encodes a str strictly and fails on a name that is not UTF-8.
    with _c_library_notes(notes), soundfile.SoundFile(os.fsencode(source)) as sound:
        # Filled block by block so the file is never held twice, as
        # (samples, channels) and transposed.
        samples = np.empty((sound.channels, max(sound.frames, 0)), dtype=np.float32)
        filled = 0
        while filled < samples.shape[1]:
            block = sound.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            if len(block) == 0:
                break
            samples[:, filled : filled + len(block)] = block.T
            filled += len(block)
        rate = sound.samplerate
        short_chunk = _SHORT_CHUNK.search(sound.extra_info)
    problem = None
    if filled < samples.shape[1]:
        # An MP3 announces its length in its header; a cut file delivers less.
        problem = f"ends early: its header announces {samples.shape[1] / rate:.2f} s"
        samples = np.ascontiguousarray(samples[:, :filled])
    elif short_chunk and int(short_chunk[2]) < int(short_chunk[1]):
        # A cut WAV: libsndfile reads what is there and only notes the header's claim in its log.
        problem = f"ends early: its header announces {int(short_chunk[1])} bytes of audio, the file holds {short_chunk[2]}"
    elif any(notes):
        problem = "has damaged parts (the MP3 decoder skipped bad frames)"
    elif source.suffix.lower() in (".ogg", ".oga") and not _ogg_has_its_end(source):
        problem = "ends early: its last Ogg page is missing"
    return samples, rate, problem


def _ogg_has_its_end(source: Path) -> bool:
    """Whether the last page of an Ogg file is there: it carries the end-of-stream flag.

    libsndfile reads a cut Ogg file to its last whole page without a word, and
    the length it reports is taken from that page, so nothing else tells.
    """
    with open(source, "rb") as handle:
        handle.seek(max(0, os.fstat(handle.fileno()).st_size - (1 << 16)))
        tail = handle.read()
    last_page = tail.rfind(b"OggS")
    # Page header: capture pattern (4 bytes), version (1), header type (1): 0x04 = end of stream.
    return last_page >= 0 and len(tail) > last_page + 5 and bool(tail[last_page + 5] & 0x04)


@contextmanager
def _c_library_notes(notes: list[str]) -> Iterator[None]:
    """Catch what C libraries print straight to file descriptor 2 inside the block, into ``notes``.

    libmpg123 (inside libsndfile) prints "Note: Illegal Audio-MPEG-Header ..."
    lines for every damaged frame, and those would break the CLI's promise of
    one line per file. Yields a function returning the text caught. Only in the
    main thread: redirecting descriptor 2 there hides no other thread's output
    in the CLI, while the window's decoder threads leave it alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            notes.append(caught.read().decode(errors="replace"))


def _read_with_pyav(source: Path) -> tuple[np.ndarray, int, str | None]:
    """Samples ``(channels, samples)`` float32, rate, and what was wrong with the file
    (or None) of its first audio stream, via FFmpeg."""
    # Imported here: FFmpeg's libraries cost memory and most songs never need them.
    import av

    try:
        container = av.open(str(source), metadata_errors="replace")
    except (av.error.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or "unknown format"
        raise StemdeskError(
            f"cannot decode '{source}': not an audio file stemdesk can read ({reason})"
        ) from error
    with container:
        if not container.streams.audio:
            raise StemdeskError(f"cannot decode '{source}': it holds no audio stream")
        stream = container.streams.audio[0]
        if stream.channels == 0:
            raise StemdeskError(f"cannot decode '{source}': not an audio file stemdesk can read (no audio channels)")
        # Planar float keeps the decoder's rate and layout and gives (channels, samples) frames.
        to_planar_float = av.AudioResampler(format="fltp")
        blocks: list[np.ndarray] = []
        rate = stream.rate
        damaged_packets = 0
        problem = None
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    # A bad packet costs some milliseconds; stopping would cost the rest of the song.
                    damaged_packets += 1
                    continue
                for frame in frames:
                    for converted in to_planar_float.resample(frame):
                        if not blocks:
                            # The decoded frames' rate, not the container header's, is the truth.
                            rate = converted.rate
                        blocks.append(converted.to_ndarray())
        except av.error.FFmpegError as error:
            if not blocks:
                raise StemdeskError(f"cannot decode '{source}': its audio data is damaged{_why(error)}") from error
            problem = f"ends early{_why(error)}"
        blocks.extend(converted.to_ndarray() for converted in to_planar_float.resample(None))
    if damaged_packets and not blocks:
        raise StemdeskError(f"cannot decode '{source}': its audio data is damaged")
    if damaged_packets:
        problem = f"has damaged parts: skipped {damaged_packets} packets" + (f" and {problem}" if problem else "")
    if not blocks:
        return np.zeros((stream.channels, 0), dtype=np.float32), rate, problem
    return np.concatenate(blocks, axis=1), rate, problem


def _why(error) -> str:
    # FFmpeg's private error codes come out as "Error number -50531338 occurred": no help to anyone.
    reason = getattr(error, "strerror", None)
    return f" ({reason})" if reason and not reason.startswith("Error number") else ""


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
    with atomic_path(target) as temp, open(temp, "wb") as raw, _signals_held() as deliver_held_signal:
        sink = _ErrorKeepingFile(raw)
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


class _ErrorKeepingFile:
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
def _signals_held() -> Iterator[Callable[[], None]]:
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
        raise StemdeskError(_describe_write_failure(target, error)) from error
    try:
        yield temp
        _flush_to_disk(temp)
        os.replace(temp, target)
    except OSError as error:
        _remove_quietly(temp)
        raise StemdeskError(_describe_write_failure(target, error)) from error
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


def _describe_write_failure(target: Path, error: OSError) -> str:
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
