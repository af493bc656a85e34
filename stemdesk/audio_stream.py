"""Decode an audio file block by block, so that no song is held whole.

:func:`open_stream` reads a file as :func:`stemdesk.audio.decode` does, with
the same readers, checks and warnings (:mod:`stemdesk.decoders`): the blocks
joined are ``decode``'s samples, bit for bit, and a file that ``decode``
refuses is refused here with the same line. It reads the file twice: first
to its end without keeping anything (libsndfile only finds out at the end
whether it read a file whole, and whether FFmpeg should read it instead;
that pass also finds NaN samples, the exact length and the peak), then block
by block for the consumer, as often as it asks (a separator that needs the
whole song's statistics first reads it once more). The first pass costs a
fraction of a second for a 4-minute song; an hour of stereo at 44.1 kHz
would be 1.3 GB as one array, a block is half a megabyte.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .decoders import Reader, check_decoded, check_readable_file, read_any, reopen, warn_problem
from .errors import StemdeskError


@dataclass(frozen=True)
class AudioStream:
    """An opened song: its format, and its blocks read afresh on request (:meth:`blocks`).

    ``peak`` is the largest absolute sample.
    """

    path: Path
    rate: int
    channels: int
    length: int
    peak: float
    _scanned: Reader = field(repr=False)
    _stamp: tuple[int, ...] = field(repr=False)  # the file as it was when opened

    def blocks(self) -> Iterator[np.ndarray]:
        """A new reading of the file from its start: C-contiguous float32 ``(channels, n)`` arrays in order,
        ``length`` samples in all, none kept.

        Raises:
            StemdeskError: the file changed since it was opened (its size,
                time or inode; or it ends early), in one line.
        """
        if _stamp(self.path) != self._stamp:
            raise _changed(self.path)
        return _blocks(self.path, reopen(self._scanned, self.path), self.length)


@dataclass
class _Scan:
    finite: bool = True
    peak: float = 0.0


def _scanned(reader: Reader) -> _Scan:
    """The first pass: every block looked at, none kept."""
    scan = _Scan()
    for block in reader.blocks():
        if not block.size:
            continue
        # max and min rather than abs: no copy of the block; either is NaN when a sample is.
        high, low = float(block.max()), float(block.min())
        if np.isfinite(high) and np.isfinite(low):
            scan.peak = max(scan.peak, high, -low)
        else:
            scan.finite = False
    return scan


def open_stream(path: str | os.PathLike) -> AudioStream:
    """Open ``path`` for block decoding; a file that ends early or has damaged parts is warned about here.

    Raises:
        StemdeskError: one line naming the file, for everything
            :func:`stemdesk.audio.decode` refuses, with its words.
    """
    source = Path(path)
    check_readable_file(source)
    stamp = _stamp(source)
    scanned, scan = read_any(source, _scanned)
    check_decoded(source, scanned, scan.finite)
    warn_problem(source, scanned)
    return AudioStream(source, scanned.rate, scanned.channels, scanned.length, scan.peak, scanned, stamp)


def _stamp(source: Path) -> tuple[int, ...]:
    """What changes when the file is written to or replaced: its device, inode, size and time."""
    try:
        status = source.stat()
    except OSError:
        raise _changed(source) from None
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _changed(source: Path) -> StemdeskError:
    return StemdeskError(f"cannot read '{source}': it changed while it was being read")


def _blocks(source: Path, reader: Reader, length: int) -> Iterator[np.ndarray]:
    """``reader``'s blocks, contiguous, as many samples as the first pass found."""
    for block in reader.blocks():
        block = block[:, : length - (reader.length - block.shape[1])]
        if block.shape[1]:
            yield np.ascontiguousarray(block)
        if reader.length >= length:
            break
    if reader.length < length:
        # Only if the file changed between the two passes.
        raise _changed(source)
