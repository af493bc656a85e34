"""Decode an audio file block by block, for songs too long to hold whole.

:func:`open_stream` reads the same files as :func:`stemdesk.audio.decode`,
through the same libraries (libsndfile first, FFmpeg for the rest or when
libsndfile refuses a file), with the same checks, but hands out float32
``(channels, n)`` blocks one at a time: an hour of stereo at 44.1 kHz is
1.3 GB as float32, a block is half a megabyte. A check that needs the whole
file (NaN or infinite samples, no samples at all) fails on the block where it
is found, so a consumer must write what it makes atomically, as
:mod:`stemdesk.streamed_stems` does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .audio import _SOUNDFILE_SUFFIXES, MAX_RATE, MIN_RATE, _check_readable_file
from .errors import StemdeskError

log = logging.getLogger(__name__)

#: Frames per block handed out (about 1.5 s at 44.1 kHz).
BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class AudioStream:
    """An opened song: its format and an iterator of its blocks.

    ``blocks`` yields float32 ``(channels, n)`` arrays in order, at least one
    sample in all (else StemdeskError), and can be iterated once.
    ``expected_length`` is the header's frame count (None when the container
    does not say); the blocks may come up short of it (a cut file, warned).
    """

    path: Path
    rate: int
    channels: int
    expected_length: int | None
    blocks: Iterator[np.ndarray]


def open_stream(path: str | os.PathLike) -> AudioStream:
    """Open ``path`` for block decoding (StemdeskError, one line, for a bad file)."""
    source = Path(path)
    _check_readable_file(source)
    stream = None
    if source.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            stream = _soundfile_stream(source)
        except soundfile.SoundFileError:
            stream = None
    if stream is None:
        stream = _pyav_stream(source)
    if stream.channels == 0:
        raise StemdeskError(f"cannot use '{source}': it has no audio channels")
    if not MIN_RATE <= stream.rate <= MAX_RATE:
        raise StemdeskError(
            f"cannot use '{source}': its sample rate {stream.rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz"
        )
    return AudioStream(stream.path, stream.rate, stream.channels, stream.expected_length,
                       _checked(source, stream.blocks, stream.rate, stream.expected_length))


def _checked(source: Path, blocks: Iterator[np.ndarray], rate: int, expected: int | None) -> Iterator[np.ndarray]:
    """``blocks`` with decode's checks on what they hold."""
    total = 0
    for block in blocks:
        if not np.isfinite(block).all():
            raise StemdeskError(f"cannot use '{source}': it contains NaN or infinite samples")
        total += block.shape[1]
        yield block
    if total == 0:
        raise StemdeskError(f"cannot use '{source}': it holds no audio (0 samples)")
    if expected is not None and total < expected:
        log.warning("'%s' ends early: decoded %.2f s of %.2f s", source, total / rate, expected / rate)


def _soundfile_stream(source: Path) -> AudioStream:
    sound = soundfile.SoundFile(source)

    def blocks() -> Iterator[np.ndarray]:
        with sound:
            while True:
                block = sound.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    return
                yield np.ascontiguousarray(block.T)

    frames = sound.frames if sound.frames > 0 else None
    return AudioStream(source, sound.samplerate, sound.channels, frames, blocks())


def _pyav_stream(source: Path) -> AudioStream:
    # Imported here: FFmpeg's libraries cost memory and most songs never need them.
    import av

    try:
        container = av.open(str(source), metadata_errors="replace")
    except (av.error.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or "unknown format"
        raise StemdeskError(f"cannot decode '{source}': not an audio file stemdesk can read ({reason})") from error
    if not container.streams.audio:
        container.close()
        raise StemdeskError(f"cannot decode '{source}': it holds no audio stream")
    stream = container.streams.audio[0]
    frames = _pyav_frames(source, container, stream)
    try:
        first = next(frames)
    except StopIteration:
        container.close()
        raise StemdeskError(f"cannot use '{source}': it holds no audio (0 samples)") from None
    # The decoded frames' rate and layout, not the container header's, are the truth.
    rate, channels = first.rate, first.to_ndarray().shape[0]

    def blocks() -> Iterator[np.ndarray]:
        with container:
            yield first.to_ndarray()
            for frame in frames:
                yield frame.to_ndarray()

    expected = None
    if stream.duration is not None and stream.time_base is not None:
        expected = int(round(float(stream.duration * stream.time_base) * rate))
    return AudioStream(source, rate, channels, expected, blocks())


def _pyav_frames(source: Path, container, stream) -> Iterator:
    """Planar float frames of ``stream``; damaged packets skipped with a warning."""
    import av

    to_planar_float = av.AudioResampler(format="fltp")
    damaged, delivered = 0, False
    try:
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                # A bad packet costs some milliseconds; stopping would cost the rest of the song.
                damaged += 1
                continue
            for frame in decoded:
                for converted in to_planar_float.resample(frame):
                    delivered = True
                    yield converted
    except av.error.FFmpegError as error:
        if not delivered:
            raise StemdeskError(f"cannot decode '{source}': its audio data is damaged ({error.strerror})") from error
        log.warning("'%s' ends early (%s); using the part before", source, error.strerror)
    yield from to_planar_float.resample(None)
    if damaged:
        if not delivered:
            raise StemdeskError(f"cannot decode '{source}': its audio data is damaged")
        log.warning("'%s' has damaged parts: skipped %d packets", source, damaged)
