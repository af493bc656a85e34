"""Separate one file into stem files while it decodes: memory that does not grow with the song.

The same output as :func:`stemdesk.stem_files.separate_file`
(``<out>/<song>/<stem>.<format>`` and ``no_<stem>`` rests), bit for bit, but
the song is decoded block by block (:mod:`stemdesk.audio_stream`), separated
by :meth:`Separator.stream` and each finished span of stems is appended to
hidden staging files, so an hour-long song needs a few chunks of memory, not
the hour's samples several times over. The files of a song appear together
(renamed once all are complete) or not at all.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile

from .audio_stream import open_stream
from .chunking import CancelToken, Progress
from .errors import StemdeskError
from .sample_queue import SampleQueue
from .stem_files import FORMATS, REST_PREFIX, choose_stems, song_folder


class StreamingSeparator(Protocol):
    """A separator that also separates a song block by block (see :meth:`Separator.stream`)."""

    stems: tuple[str, ...]

    def stream(
        self,
        blocks: Iterator[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]: ...


def can_stream(separator: object) -> bool:
    """Whether ``separator`` separates block by block (mask models do; presets not yet)."""
    return callable(getattr(separator, "stream", None))


def separate_file_streamed(
    separator: StreamingSeparator,
    song: str | os.PathLike,
    out_dir: str | os.PathLike,
    stems: list[str] | None = None,
    rest: bool = False,
    file_format: str = "wav",
    subtype: str = "PCM_16",
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Decode, separate and write ``song`` span by span; see :func:`stem_files.separate_file`.

    Returns:
        The written paths, stems first, then ``no_<stem>`` rests.

    Raises:
        StemdeskError: a bad file (also one found bad halfway, e.g. NaN
            samples), a write failure, or Cancelled; no stem file of the song
            is then left, under its own or a staging name, and a song folder
            made for it is removed again.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    chosen = choose_stems(separator.stems, stems)
    indices = [separator.stems.index(stem) for stem in chosen]
    song = Path(song)
    audio = open_stream(song)
    folder = Path(out_dir) / song.stem
    made_folder = not folder.exists()
    mixture = SampleQueue()

    def blocks() -> Iterator[np.ndarray]:
        for block in audio.blocks:
            mixture.push(block)  # kept until the stems of it are out, for the rests
            yield block

    names = [f"{stem}.{file_format}" for stem in chosen]
    if rest:
        names += [f"{REST_PREFIX}{stem}.{file_format}" for stem in chosen]
    writer: _StagedFiles | None = None
    try:
        spans = separator.stream(blocks(), audio.rate, audio.expected_length, progress, cancel)
        for start, span in spans:
            if writer is None:
                # Only once the first span is made: a file refused early leaves no folder.
                writer = _StagedFiles([song_folder(song, Path(out_dir)) / name for name in names],
                                      audio.rate, audio.channels, subtype)
            stop = start + span.shape[-1]
            outputs = [span[index] for index in indices]
            if rest:
                song_span = mixture.take(start, stop)
                outputs += [song_span - span[index] for index in indices]
            mixture.drop_before(stop)
            writer.write(outputs)
        writer.commit()
        return writer.paths
    except BaseException:
        if writer is not None:
            writer.discard()
        if made_folder:
            with suppress(OSError):
                folder.rmdir()  # only if empty: an older song's files stay
        raise


class _StagedFiles:
    """Sound files written span by span under hidden names, renamed into place together."""

    def __init__(self, paths: list[Path], rate: int, channels: int, subtype: str):
        self.paths = paths
        self._clip = subtype != "FLOAT"
        token = secrets.token_hex(4)
        self._staged = [path.with_name(f".{path.stem}.{token}.staging{path.suffix}") for path in paths]
        self._files: list[soundfile.SoundFile] = []
        try:
            for stage in self._staged:
                container = "FLAC" if stage.suffix == ".flac" else "WAV"
                self._files.append(
                    soundfile.SoundFile(stage, "w", samplerate=rate, channels=channels,
                                        subtype=subtype, format=container)
                )
        except (OSError, soundfile.SoundFileError) as error:
            self.discard()
            raise StemdeskError(f"Cannot write stems to {paths[0].parent}: {error}") from None

    def write(self, spans: list[np.ndarray]) -> None:
        """Append float32 ``(C, n)`` to each file, in ``paths`` order."""
        for sound, span, stage in zip(self._files, spans, self._staged):
            if self._clip:
                # As write_audio does: PCM cannot hold more than full scale.
                span = np.clip(span, -1.0, 1.0)
            try:
                sound.write(span.T)
            except (OSError, AssertionError, soundfile.SoundFileError) as error:
                # soundfile reports a short write (a full disk) with a bare assert.
                reason = str(error) or "the disk may be full"
                raise StemdeskError(f"cannot write '{stage}': {reason}") from None

    def commit(self) -> None:
        """Close, flush and rename every staged file onto its path."""
        try:
            for sound in self._files:
                sound.close()
            for stage in self._staged:
                descriptor = os.open(stage, os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            for stage, path in zip(self._staged, self.paths):
                os.replace(stage, path)
        except (OSError, soundfile.SoundFileError) as error:
            self.discard()
            raise StemdeskError(f"Cannot write stems to {self.paths[0].parent}: {error}") from None

    def discard(self) -> None:
        for sound in self._files:
            with suppress(Exception):
                sound.close()
        for stage in self._staged:
            with suppress(OSError):
                stage.unlink(missing_ok=True)
