"""Separate one file into stem files while it decodes: memory that does not grow with the song.

The file-to-stems path of the CLI and of batches (:mod:`stemdesk.batch`),
with the set semantics of :mod:`stemdesk.stem_files` (a hidden staging
folder swapped in for the song's folder, an older set kept until then). The
song is decoded block by block (:mod:`stemdesk.audio_stream`, which refuses
and warns about a file as :func:`stemdesk.audio.decode` does), separated by
the separator's ``stream`` and each finished span of stems is appended to the
staged files, so an hour-long song needs a few chunks of memory, not the
hour's samples several times over. A separator that needs the whole song
before its first span (the hybrid kind's statistics) decodes the file once
more instead of holding it (``reread``).

16/24-bit PCM needs one gain for the whole song (:mod:`stemdesk.headroom`),
known only at its end: the spans are staged as float WAV, their peaks tracked,
and each staged file is then converted block by block with that gain.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile

from .audio import ErrorKeepingFile, describe_write_failure, signals_held
from .audio_stream import open_stream
from .chunking import CancelToken, Progress
from .decoders import BLOCK_FRAMES
from .errors import StemdeskError
from .headroom import FLOAT_SUBTYPES, WrittenFiles
from .leftovers import owner_tag
from .sample_queue import SampleQueue
from .separate import Reread
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
        reread: Reread | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]: ...


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
    """Decode ``song``, separate it and write the chosen stems (and their rests), span by span.

    Args:
        out_dir: the output folder; the song's files go to its ``name``
            subfolder (default :func:`stem_files.folder_name` of ``song``),
            replacing what an earlier run wrote there.
        subtype: "PCM_16", "PCM_24" or (WAV only) "FLOAT"; default
            ``DEFAULT_SUBTYPES[file_format]``.

    Returns:
        The written paths (stems first, then ``no_<stem>`` rests) and the
        gain they were scaled by so that none clips (1.0 for float WAV).

    Raises:
        StemdeskError: a bad file, format or output folder, a write failure,
            or Cancelled; the song's folder is then as it was and no staged
            file is left.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    subtype = subtype or DEFAULT_SUBTYPES[file_format]
    chosen = choose_stems(separator.stems, stems)
    indices = [separator.stems.index(stem) for stem in chosen]
    song, out_dir = Path(song), Path(out_dir)
    folder = out_dir / (name or folder_name(song))
    _check_replaceable(folder)
    if _is_inside(song, folder):
        raise StemdeskError(f"Cannot write the stems of {song} to {folder}: the song itself is in that folder, "
                            "which the new stems would replace; choose another output folder (-o).")
    audio = open_stream(song)
    mixture = SampleQueue()

    def blocks() -> Iterator[np.ndarray]:
        for block in audio.blocks():
            mixture.push(block)  # kept until the stems of it are out, for the rests
            yield block

    names = [f"{stem}.{file_format}" for stem in chosen]
    if rest:
        names += [f"{REST_PREFIX}{stem}.{file_format}" for stem in chosen]
    staging: _StagedSet | None = None
    loudest = 0.0
    try:
        # A separator that needs the whole song before its first span reads the file again
        # rather than holding it (the hybrid kind's statistics).
        spans = separator.stream(blocks(), audio.rate, audio.length, progress, cancel, reread=audio.blocks)
        for start, span in _quiet(spans):
            if not np.isfinite(span).all():
                raise StemdeskError(f"cannot separate '{song}': its samples (peak {audio.peak:.3g}) are too loud "
                                    "for the network's arithmetic; lower its level first.")
            if staging is None:
                # Only once the first span is made: a file refused early leaves nothing.
                # A signal meanwhile waits until `staging` is set, so the cleanup below sees its folder.
                with signals_held():
                    staging = _StagedSet(out_dir, folder, names, audio.rate, audio.channels, subtype)
            stop = start + span.shape[-1]
            song_span = mixture.take(start, stop)
            rests = [song_span - stem for stem in span]
            # The gain is taken over every stem and every rest, written or not,
            # as song_gain does for the window's exports, so files of one song always match.
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


def _quiet(spans: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
    """``spans`` without numpy's RuntimeWarnings: a song near float32's largest value overflows
    inside the separator, and "invalid value" lines would add to the one error it gets."""
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            item = next(spans, None)
        if item is None:
            return
        yield item


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


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
        self._files: list[_SoundSink] = []
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            recover_output_folder(out_dir)
            self.folder.mkdir()
        except OSError as error:
            raise StemdeskError(f"Cannot write stems to {folder}: {error.strerror or error}") from None
        try:
            for file_name in names:
                container = "FLAC" if file_name.endswith(".flac") and self._staged_subtype != "FLOAT" else "WAV"
                self._files.append(_SoundSink(self._staged(file_name), samplerate=rate, channels=channels,
                                              subtype=self._staged_subtype, format=container))
        except StemdeskError:
            self.discard()
            raise

    def _staged(self, file_name: str) -> Path:
        if self._staged_subtype == self._subtype:
            return self.folder / file_name
        return self.folder / f".{file_name}.float.wav"

    def write(self, spans: list[np.ndarray]) -> None:
        """Append float32 ``(C, n)`` to each file, in ``names`` order."""
        for sink, span in zip(self._files, spans):
            sink.write(span.T)

    def finish(self, gain: float) -> None:
        """Close every file; PCM ones are converted from their float staging with ``gain``."""
        for sink in self._files:
            sink.close()
        if self._staged_subtype == self._subtype:
            return
        for file_name in self._names:
            staged = self._staged(file_name)
            container = "FLAC" if file_name.endswith(".flac") else "WAV"
            with soundfile.SoundFile(staged) as source:
                target = _SoundSink(self.folder / file_name, samplerate=source.samplerate,
                                    channels=source.channels, subtype=self._subtype, format=container)
                self._files.append(target)
                while len(block := source.read(BLOCK_FRAMES, dtype="float32", always_2d=True)):
                    # As write_audio scales and clips, so the files equal the window's exports.
                    if gain != 1.0:
                        block = block * np.float32(gain)
                    target.write(np.clip(block, -1.0, 1.0))
                target.close()
            staged.unlink()

    def discard(self) -> None:
        # A Ctrl-C meanwhile arrives once the staged files are gone.
        with signals_held():
            for sink in self._files:
                sink.abandon()
            shutil.rmtree(self.folder, ignore_errors=True)


class _SoundSink:
    """One file written by libsndfile whose failed writes say why (a full disk), in one line.

    libsndfile only learns that a write came up short; the file object under
    it (:class:`stemdesk.audio.ErrorKeepingFile`) keeps the OSError. Ctrl-C is
    held while libsndfile calls back into that file object, where cffi would
    swallow its KeyboardInterrupt (:func:`stemdesk.audio.signals_held`).
    """

    def __init__(self, path: Path, **sound_format):
        self._path = path
        try:
            self._raw = open(path, "wb")
        except OSError as error:
            raise StemdeskError(describe_write_failure(path, error)) from None
        self._sink = ErrorKeepingFile(self._raw)
        try:
            with signals_held():
                self._sound = soundfile.SoundFile(self._sink, "w", **sound_format)
        except soundfile.SoundFileError as error:
            self._raw.close()
            self._raise(error)

    def write(self, frames: np.ndarray) -> None:
        """Append float32 ``(n, C)`` frames."""
        try:
            with signals_held():
                self._sound.write(frames)
        # soundfile reports a short write with a bare assert.
        except (AssertionError, soundfile.SoundFileError) as error:
            self._raise(error)
        self._raise(None)

    def close(self) -> None:
        try:
            with signals_held():
                self._sound.close()
            self._raise(None)
            self._raw.close()
        except (AssertionError, soundfile.SoundFileError) as error:
            self._raise(error)
        except OSError as error:
            raise StemdeskError(describe_write_failure(self._path, error)) from None

    def abandon(self) -> None:
        """Close without a word: the file is being thrown away after an error."""
        with suppress(Exception):
            self._sound.close()
        with suppress(OSError):
            self._raw.close()

    def _raise(self, error: Exception | None) -> None:
        """StemdeskError for a kept OSError, else for ``error`` (when there is one)."""
        try:
            self._sink.raise_kept_error()
        except OSError as kept:
            raise StemdeskError(describe_write_failure(self._path, kept)) from None
        if error is not None:
            raise StemdeskError(f"cannot write '{self._path}': {error or 'the disk may be full'}") from None
