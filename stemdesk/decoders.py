"""Reading audio files block by block, and what every decoded file must pass.

The one place that knows how a file is read and when it is refused or
warned about; :func:`stemdesk.audio.decode` (a whole song in one array) and
:func:`stemdesk.audio_stream.open_stream` (a song block by block) are both
built on it, so a file fails or warns alike through either.

libsndfile (``soundfile``) reads the formats it knows, FFmpeg (``av``) the
rest and what libsndfile refuses or cuts short (:func:`read_any`). A reader
hands out float32 ``(channels, n)`` blocks and, once they are exhausted,
says what was wrong with the file (``problem``: it ended early, damaged parts
were skipped), for one logged warning (:func:`warn_problem`).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import soundfile

from .errors import StemdeskError

log = logging.getLogger(__name__)

MIN_RATE, MAX_RATE = 8_000, 192_000

# Read by libsndfile first; FFmpeg is the fallback for these and the only
# reader for the others.
SOUNDFILE_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
PYAV_SUFFIXES = frozenset({".m4a", ".aac", ".opus", ".mp4", ".m4v", ".mov", ".webm", ".mka", ".mkv", ".wma"})

#: Frames per block libsndfile reads (about 1.5 s at 44.1 kHz): bounds the extra memory of a block.
BLOCK_FRAMES = 1 << 16


class Reader(Protocol):
    """One pass over a file's first audio stream.

    ``rate`` and ``channels`` are the decoder's (FFmpeg's become final with
    the first block); ``announced`` is the header's frame count, when it has
    one; ``length`` counts the frames handed out so far; ``problem`` is set
    once :meth:`blocks` is exhausted.
    """

    rate: int
    channels: int
    announced: int | None
    length: int
    problem: str | None

    def blocks(self) -> Iterator[np.ndarray]:
        """float32 ``(channels, n)`` blocks in order, once (views: copy to keep one contiguous)."""
        ...


T = TypeVar("T")


def read_any(source: Path, consume: Callable[[Reader], T]) -> tuple[Reader, T]:
    """The reader of ``source`` that decoding uses, and what ``consume`` made of reading it to its end.

    libsndfile for its formats, FFmpeg for the rest and for what libsndfile
    refuses, or cuts short where FFmpeg reads more. ``consume`` reads a fresh
    reader's blocks to the end (into one array, or only looking at them).

    Raises:
        StemdeskError: neither library can read the file (one line naming it).
    """
    if source.suffix.lower() in SOUNDFILE_SUFFIXES:
        with suppress(soundfile.SoundFileError):
            reader = SoundfileReader(source)
            result = consume(reader)
            if not reader.problem:
                return reader, result
            # libsndfile stops at the first damaged MP3 frame; FFmpeg skips it and goes on.
            with suppress(StemdeskError):
                other = PyavReader(source)
                other_result = consume(other)
                if other.length > reader.length and other.channels == reader.channels:
                    other.problem = other.problem or reader.problem
                    return other, other_result
            return reader, result
    reader = PyavReader(source)
    return reader, consume(reader)


def reopen(reader: Reader, source: Path) -> Reader:
    """A fresh reader of ``source`` by the same library as ``reader``."""
    return type(reader)(source)


def check_readable_file(source: Path) -> None:
    """StemdeskError (one line) unless ``source`` is a regular, non-empty file that can be opened."""
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


def check_decoded(source: Path, reader: Reader, finite: bool) -> None:
    """StemdeskError (one line) for a file read to its end that has nothing usable.

    ``finite``: whether every sample read was finite (no NaN or infinity).
    """
    if reader.channels == 0:
        raise StemdeskError(f"cannot use '{source}': it has no audio channels")
    if reader.length == 0:
        raise StemdeskError(f"cannot use '{source}': it holds no audio (0 samples)")
    if not MIN_RATE <= reader.rate <= MAX_RATE:
        raise StemdeskError(
            f"cannot use '{source}': its sample rate {reader.rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz"
        )
    if not finite:
        raise StemdeskError(f"cannot use '{source}': it contains NaN or infinite samples")


def warn_problem(source: Path, reader: Reader) -> None:
    """The one logged warning for a file that was read only in part (nothing when it was whole)."""
    if reader.problem:
        log.warning("'%s' %s; using the %.2f s that could be read", source, reader.problem,
                    reader.length / reader.rate)


# libsndfile's log of a WAV/AIFF whose header claims more data than the file holds.
_SHORT_CHUNK = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class SoundfileReader:
    """A file read by libsndfile; see :class:`Reader`.

    Raises ``soundfile.SoundFileError`` (on opening or on a block) for a file
    libsndfile cannot read: :func:`read_any` then tries FFmpeg.
    """

    def __init__(self, source: Path):
        self._source = source
        self._notes: list[str] = []
        # As bytes: soundfile encodes a str strictly and fails on a name that is not UTF-8.
        with _c_library_notes(self._notes):
            self._sound = soundfile.SoundFile(os.fsencode(source))
        self.rate, self.channels = self._sound.samplerate, self._sound.channels
        self.announced: int = max(self._sound.frames, 0)
        self.length = 0
        self.problem: str | None = None

    def blocks(self) -> Iterator[np.ndarray]:
        with self._sound as sound:
            # Never past the header's count: what it announces is what the file is taken to hold.
            while self.length < self.announced:
                with _c_library_notes(self._notes):
                    block = sound.read(min(BLOCK_FRAMES, self.announced - self.length), dtype="float32",
                                       always_2d=True)
                if len(block) == 0:
                    break
                self.length += len(block)
                yield block.T
            short_chunk = _SHORT_CHUNK.search(sound.extra_info)
        self.problem = self._problem(short_chunk)

    def _problem(self, short_chunk: re.Match | None) -> str | None:
        if self.length < self.announced:
            # An MP3 announces its length in its header; a cut file delivers less.
            return f"ends early: its header announces {self.announced / self.rate:.2f} s"
        if short_chunk and int(short_chunk[2]) < int(short_chunk[1]):
            # A cut WAV: libsndfile reads what is there and only notes the header's claim in its log.
            return f"ends early: its header announces {int(short_chunk[1])} bytes of audio, the file holds {short_chunk[2]}"
        if any(self._notes):
            return "has damaged parts (the MP3 decoder skipped bad frames)"
        if self._source.suffix.lower() in (".ogg", ".oga") and not _ogg_has_its_end(self._source):
            return "ends early: its last Ogg page is missing"
        return None


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
    one line per file. Only in the main thread: redirecting descriptor 2
    there hides no other thread's output in the CLI (it is held around one
    open or one block's read, not while a song is separated), while the
    window's decoder threads leave it alone.
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


class PyavReader:
    """A file's first audio stream read by FFmpeg; see :class:`Reader`.

    Damaged packets are skipped (counted in ``problem``); an error after some
    audio ends the blocks there ("ends early").

    Raises:
        StemdeskError: FFmpeg cannot open the file, it has no audio stream or
            channels, or (from :meth:`blocks`) its audio data is damaged from
            the start.
    """

    def __init__(self, source: Path):
        # Imported here: FFmpeg's libraries cost memory and most songs never need them.
        import av

        self._source = source
        try:
            self._container = av.open(str(source), metadata_errors="replace")
        except (av.error.FFmpegError, OSError) as error:
            reason = getattr(error, "strerror", None) or "unknown format"
            raise StemdeskError(
                f"cannot decode '{source}': not an audio file stemdesk can read ({reason})"
            ) from error
        if not self._container.streams.audio:
            self._container.close()
            raise StemdeskError(f"cannot decode '{source}': it holds no audio stream")
        self._stream = self._container.streams.audio[0]
        if self._stream.channels == 0:
            self._container.close()
            raise StemdeskError(f"cannot decode '{source}': not an audio file stemdesk can read (no audio channels)")
        self.rate, self.channels = self._stream.rate, self._stream.channels
        self.announced: int | None = None
        self.length = 0
        self.problem: str | None = None

    def blocks(self) -> Iterator[np.ndarray]:
        import av

        # Planar float keeps the decoder's rate and layout and gives (channels, samples) frames.
        to_planar_float = av.AudioResampler(format="fltp")
        damaged_packets = 0
        problem = None
        with self._container as container:
            try:
                for packet in container.demux(self._stream):
                    try:
                        frames = packet.decode()
                    except av.error.InvalidDataError:
                        # A bad packet costs some milliseconds; stopping would cost the rest of the song.
                        damaged_packets += 1
                        continue
                    for frame in frames:
                        for converted in to_planar_float.resample(frame):
                            yield self._handed_out(converted)
            except av.error.FFmpegError as error:
                if not self.length:
                    raise StemdeskError(
                        f"cannot decode '{self._source}': its audio data is damaged{_why(error)}"
                    ) from error
                problem = f"ends early{_why(error)}"
            for converted in to_planar_float.resample(None):
                yield self._handed_out(converted)
        if damaged_packets and not self.length:
            raise StemdeskError(f"cannot decode '{self._source}': its audio data is damaged")
        if damaged_packets:
            problem = f"has damaged parts: skipped {damaged_packets} packets" + (f" and {problem}" if problem else "")
        self.problem = problem

    def _handed_out(self, converted) -> np.ndarray:
        block = converted.to_ndarray()
        if not self.length:
            # The decoded frames' rate and layout, not the container header's, are the truth.
            self.rate, self.channels = converted.rate, block.shape[0]
        self.length += block.shape[1]
        return block


def _why(error) -> str:
    # FFmpeg's private error codes come out as "Error number -50531338 occurred": no help to anyone.
    reason = getattr(error, "strerror", None)
    return f" ({reason})" if reason and not reason.startswith("Error number") else ""
