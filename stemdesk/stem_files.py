"""Separate one file into stem files on disk: ``<out>/<song>/<stem>.<format>``.

Stateless per file, so a batch runner (the CLI, or a job queue on many
machines) can call :func:`separate_file` for each song independently.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .audio import Audio, decode, write_audio
from .chunking import CancelToken, Progress
from .errors import StemdeskError
from .separate import rest_of
from .separators import StemSeparator

FORMATS = ("wav", "flac")
#: CLI bit depth name -> libsndfile subtype.
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
REST_PREFIX = "no_"


def choose_stems(available: tuple[str, ...], wanted: list[str] | None) -> list[str]:
    """The stems to write, in the model's order; all of them when ``wanted`` is empty."""
    if not wanted:
        return list(available)
    unknown = [stem for stem in wanted if stem not in available]
    if unknown:
        raise StemdeskError(
            f"Unknown stem {', '.join(unknown)}; this model has {', '.join(available)}."
        )
    return [stem for stem in available if stem in wanted]


def song_folder(song: Path, out_dir: Path) -> Path:
    """``out_dir/<song name without suffix>``, created; StemdeskError if it cannot be."""
    folder = Path(out_dir) / Path(song).stem
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StemdeskError(f"Cannot create output folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise StemdeskError(f"Output folder {folder} is not writable.")
    return folder


def separate_file(
    separator: StemSeparator,
    song: str | os.PathLike,
    out_dir: str | os.PathLike,
    stems: list[str] | None = None,
    rest: bool = False,
    file_format: str = "wav",
    subtype: str = "PCM_16",
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Decode ``song``, separate it and write the chosen stems (and their rests).

    All files of a song appear together or not at all: each is written to a
    temporary name and renamed only once every one of them is complete.

    Returns:
        The written paths, stems first, then ``no_<stem>`` rests.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    chosen = choose_stems(separator.stems, stems)
    song = Path(song)
    mixture = decode(song)
    folder = song_folder(song, Path(out_dir))
    separated = separator.separate(mixture, progress=progress, cancel=cancel)
    outputs: dict[Path, Audio] = {folder / f"{stem}.{file_format}": separated[stem] for stem in chosen}
    if rest:
        for stem in chosen:
            outputs[folder / f"{REST_PREFIX}{stem}.{file_format}"] = rest_of(separated, stem, mixture)
    _write_together(outputs, subtype)
    return list(outputs)


def _write_together(outputs: dict[Path, Audio], subtype: str) -> None:
    """Write every file under a hidden staging name, then rename them all into place."""
    token = secrets.token_hex(4)
    staged: list[tuple[Path, Path]] = []
    try:
        for path, audio in outputs.items():
            stage = path.with_name(f".{path.stem}.{token}.staging{path.suffix}")
            write_audio(stage, audio, subtype)
            staged.append((stage, path))
        for stage, path in staged:
            os.replace(stage, path)
    except OSError as error:
        raise StemdeskError(f"Cannot write stems to {path.parent}: {error.strerror or error}") from None
    finally:
        for stage, _ in staged:
            stage.unlink(missing_ok=True)
