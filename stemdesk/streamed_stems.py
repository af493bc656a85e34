"""Separate one file into stem files while it decodes: memory that does not grow with the song.

The same files as :func:`stemdesk.stem_files.separate_file`, bit for bit, and
the same set semantics (a hidden staging folder swapped in for the song's
folder, an older set kept until then), but the song is decoded block by block
(:mod:`stemdesk.audio_stream`), separated by the separator's ``stream`` and
each finished span of stems is appended to the staged files, so an hour-long
song needs a few chunks of memory, not the hour's samples several times over.

16/24-bit PCM needs one gain for the whole song (:mod:`stemdesk.headroom`),
known only at its end: the spans are staged as float WAV, their peaks tracked,
and each staged file is then converted block by block with that gain.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile

from .audio_stream import BLOCK_FRAMES, open_stream
from .chunking import CancelToken, Progress
from .errors import StemdeskError
from .headroom import FLOAT_SUBTYPES, WrittenFiles
from .leftovers import owner_tag
from .sample_queue import SampleQueue
from .stem_files import (DEFAULT_SUBTYPES, FORMATS, REST_PREFIX, _check_replaceable, _swap_in, choose_stems,
                         folder_name, recover_output_folder)


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
    """Whether ``separator`` separates block by block (mask and hybrid models and their presets do).

    A hybrid model reads the whole song first (its normalisation needs it), then hands out its stems span by span.
    """
    return callable(getattr(separator, "stream", None)) and getattr(separator, "streams", True)


def separate_file_streamed(
    separator: StreamingSeparator,
    song: str | os.PathLike,
    out_dir: str | os.PathLike,
    stems: list[str] | None = None,
    rest: bool = False,
    file_format: str = "wav",
    subtype: str | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    name: str | None = None,
) -> WrittenFiles:
    """Decode, separate and write ``song`` span by span; arguments as :func:`stem_files.separate_file`.

    Raises:
        StemdeskError: a bad file (also one found bad halfway, e.g. NaN
            samples), a write failure, or Cancelled; the song's folder is
            then as it was and no staged file is left.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    subtype = subtype or DEFAULT_SUBTYPES[file_format]
    chosen = choose_stems(separator.stems, stems)
    indices = [separator.stems.index(stem) for stem in chosen]
    song, out_dir = Path(song), Path(out_dir)
    folder = out_dir / (name or folder_name(song))
    _check_replaceable(folder)
    audio = open_stream(song)
    mixture = SampleQueue()

    def blocks() -> Iterator[np.ndarray]:
        for block in audio.blocks:
            mixture.push(block)  # kept until the stems of it are out, for the rests
            yield block

    names = [f"{stem}.{file_format}" for stem in chosen]
    if rest:
        names += [f"{REST_PREFIX}{stem}.{file_format}" for stem in chosen]
    staging: _StagedSet | None = None
    loudest = 0.0
    try:
        for start, span in separator.stream(blocks(), audio.rate, audio.expected_length, progress, cancel):
            if staging is None:
                # Only once the first span is made: a file refused early leaves nothing.
                staging = _StagedSet(out_dir, folder, names, audio.rate, audio.channels, subtype)
            stop = start + span.shape[-1]
            song_span = mixture.take(start, stop)
            rests = [song_span - stem for stem in span]
            # The gain is taken over every stem and every rest, written or not,
            # as separate_file does, so files of one song always match.
            loudest = max(loudest, _peak(span), *map(_peak, rests))
            mixture.drop_before(stop)
            outputs = [span[index] for index in indices]
            if rest:
                outputs += [rests[index] for index in indices]
            staging.write(outputs)
        gain = 1.0 if subtype in FLOAT_SUBTYPES or loudest <= 1.0 else 1.0 / loudest
        staging.finish(gain)
        _swap_in(staging.folder, folder, staging.tag)
    except OSError as error:
        raise StemdeskError(f"Cannot write stems to {folder}: {error.strerror or error}") from None
    finally:
        if staging is not None:
            staging.discard()
    return WrittenFiles([folder / file_name for file_name in names], gain, subtype)


def _peak(samples: np.ndarray) -> float:
    return float(max(samples.max(), -samples.min())) if samples.size else 0.0


class _StagedSet:
    """A song's files written span by span into a hidden staging folder beside its folder."""

    def __init__(self, out_dir: Path, folder: Path, names: list[str], rate: int, channels: int, subtype: str):
        self.tag = owner_tag()
        self.folder = folder.parent / f".stemdesk.{self.tag}.staging"
        self._names, self._subtype = names, subtype
        # PCM waits for the song's gain: float first, converted at the end.
        self._staged_subtype = subtype if subtype in FLOAT_SUBTYPES else "FLOAT"
        self._files: list[soundfile.SoundFile] = []
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            recover_output_folder(out_dir)
            self.folder.mkdir()
            for file_name in names:
                container = "FLAC" if file_name.endswith(".flac") and self._staged_subtype != "FLOAT" else "WAV"
                self._files.append(soundfile.SoundFile(
                    self._staged(file_name), "w", samplerate=rate, channels=channels,
                    subtype=self._staged_subtype, format=container,
                ))
        except (OSError, soundfile.SoundFileError) as error:
            self.discard()
            raise StemdeskError(f"Cannot write stems to {folder}: {error}") from None

    def _staged(self, file_name: str) -> Path:
        if self._staged_subtype == self._subtype:
            return self.folder / file_name
        return self.folder / f".{file_name}.float.wav"

    def write(self, spans: list[np.ndarray]) -> None:
        """Append float32 ``(C, n)`` to each file, in ``names`` order."""
        for sound, span, file_name in zip(self._files, spans, self._names):
            try:
                sound.write(span.T)
            except (OSError, AssertionError, soundfile.SoundFileError) as error:
                # soundfile reports a short write (a full disk) with a bare assert.
                reason = str(error) or "the disk may be full"
                raise StemdeskError(f"cannot write '{self.folder / file_name}': {reason}") from None

    def finish(self, gain: float) -> None:
        """Close every file; PCM ones are converted from their float staging with ``gain``."""
        for sound in self._files:
            sound.close()
        if self._staged_subtype == self._subtype:
            return
        for file_name in self._names:
            staged = self._staged(file_name)
            container = "FLAC" if file_name.endswith(".flac") else "WAV"
            try:
                with soundfile.SoundFile(staged) as source, soundfile.SoundFile(
                    self.folder / file_name, "w", samplerate=source.samplerate, channels=source.channels,
                    subtype=self._subtype, format=container,
                ) as target:
                    while len(block := source.read(BLOCK_FRAMES, dtype="float32", always_2d=True)):
                        # As write_audio scales and clips, so the files equal separate_file's.
                        if gain != 1.0:
                            block = block * np.float32(gain)
                        target.write(np.clip(block, -1.0, 1.0))
            except (AssertionError, soundfile.SoundFileError) as error:
                raise StemdeskError(f"cannot write '{self.folder / file_name}': {error or 'the disk may be full'}") from None
            staged.unlink()

    def discard(self) -> None:
        for sound in self._files:
            if not sound.closed:
                sound.close()
        shutil.rmtree(self.folder, ignore_errors=True)

