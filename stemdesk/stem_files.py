"""Stem files on disk, ``<out>/<song>/<stem>.<format>``: their names, their sets, their one gain.

How a song's files are named and replaced as one set; the separation that
writes them is :func:`stemdesk.streamed_stems.separate_file_streamed`,
stateless per file, so a batch runner (the CLI, or a job queue on many
machines) can call it for each song independently.

The song's folder is named after its file without the suffix, with leading
and trailing dots and spaces taken off (so ``..`` or ``.hidden`` can never
point outside or hide in the output folder; a name of dots only becomes
``song``). In one batch, later songs of a name already taken get ``<name>-2``,
``<name>-3``... in the order given (:func:`folder_names`).

A song's files are one set: all are written into a hidden staging folder
beside the song's folder, which then takes its place (an older folder is moved
aside first and removed after, or moved back when the swap fails). The folder
so holds the whole set of one run, never a mix of two runs or a half-written
file, and a failure or a signal leaves the older set as it was. Leftovers of a
killed run are removed by the next run writing to the same output folder
(:mod:`stemdesk.leftovers`), and a swap cut off halfway is undone then.

Stems are float WAV by default, so they keep samples beyond full scale and
the written files sum to the song. For 16/24-bit PCM, every file of the song
is scaled by one gain where any of them would clip (:mod:`stemdesk.headroom`).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from contextlib import suppress
from itertools import chain
from pathlib import Path

from .audio import Audio
from .errors import StemdeskError
from .headroom import clip_free_gain
from .leftovers import dead_leftovers, remove_leftovers
from .separate import rest_of

FORMATS = ("wav", "flac")
#: CLI bit depth name -> libsndfile subtype.
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
#: The sample format when none is chosen: float where the container has it.
DEFAULT_SUBTYPES = {"wav": "FLOAT", "flac": "PCM_24"}
REST_PREFIX = "no_"
#: What a song folder may hold for a new set to replace it: the files of an older set.
_SET_SUFFIXES = {f".{file_format}" for file_format in FORMATS}
#: Written by a batch (:mod:`stemdesk.batch`) beside a finished set: part of it too.
DONE_MARKER = ".stemdesk-done.json"


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


def folder_name(song: str | os.PathLike) -> str:
    """The name of ``song``'s folder: its file name without the suffix, never ``.``, ``..`` or hidden."""
    # Control characters (a newline...) in a folder name only cause grief in shells and file managers.
    name = "".join(ch if ch.isprintable() else "_" for ch in Path(song).stem).strip(". ")
    return name or "song"


def folder_names(songs: Sequence[str | os.PathLike]) -> list[str]:
    """One distinct folder name per song of a batch, in order.

    The first song of a name gets it; later ones get ``<name>-2``, ``<name>-3``...
    Names are compared case-insensitively, as some file systems do.
    """
    taken: set[str] = set()
    names = []
    for song in songs:
        base = name = folder_name(song)
        number = 1
        while name.casefold() in taken:
            number += 1
            name = f"{base}-{number}"
        taken.add(name.casefold())
        names.append(name)
    return names


def song_folder(song: Path, out_dir: Path) -> Path:
    """``out_dir/<folder_name(song)>``, created; StemdeskError if it cannot be."""
    folder = Path(out_dir) / folder_name(song)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StemdeskError(f"Cannot create output folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise StemdeskError(f"Output folder {folder} is not writable.")
    return folder


def check_output_folder(out_dir: str | os.PathLike) -> None:
    """StemdeskError unless ``out_dir`` is, or can be made as, a writable folder; creates nothing."""
    out_dir = Path(out_dir)
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise StemdeskError(f"Output folder {out_dir}: {existing} is a broken link.")
        existing = existing.parent
    if not existing.is_dir():
        raise StemdeskError(f"Output folder {out_dir}: {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        try:
            read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        except OSError:
            read_only = False
        reason = "the disk is read-only" if read_only else "no permission to write"
        raise StemdeskError(f"Output folder {out_dir}: cannot write in {existing} ({reason}).")


def song_gain(stems: dict[str, Audio], mixture: Audio, subtype: str) -> float:
    """The one gain for every stem and rest file of a song so that none clips in ``subtype``.

    Taken over all stems and all rests, whichever are written, so that files of
    one song written at different times (the CLI's, the window's exports) match.
    """
    # Lazily: one rest at a time in memory, and none computed for float files.
    rests = (rest_of(stems, name, mixture) for name in stems)
    return clip_free_gain(chain(stems.values(), rests), subtype)


def recover_output_folder(out_dir: str | os.PathLike) -> None:
    """Undo swaps a killed run left halfway in ``out_dir`` and remove its leftovers."""
    out_dir = Path(out_dir)
    for journal in dead_leftovers(out_dir, "swap"):
        old = journal.with_suffix(".old")
        with suppress(OSError, UnicodeDecodeError):
            target = out_dir / journal.read_text(encoding="utf-8", errors="surrogateescape")
            if old.is_dir() and not os.path.lexists(target) and target.parent == out_dir:
                # Killed between moving the old set aside and moving the new one in.
                os.replace(old, target)
    remove_leftovers(out_dir)


def _check_replaceable(folder: Path) -> None:
    """StemdeskError if ``folder`` holds anything but an older set of stem files."""
    if not os.path.lexists(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        raise StemdeskError(f"Cannot write stems to {folder}: it exists and is not a folder.")
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise StemdeskError(f"Cannot write stems to {folder}: {error.strerror or error}") from None
    foreign = [entry.name for entry in entries
               if not (entry.is_file(follow_symlinks=False)
                       and (Path(entry.name).suffix.lower() in _SET_SUFFIXES or entry.name == DONE_MARKER))]
    if foreign:
        shown = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        raise StemdeskError(
            f"Cannot replace the stems in {folder}: it also holds {shown}, which stemdesk did not write; "
            "move them or choose another output folder (-o)."
        )


def _swap_in(staging: Path, folder: Path, tag: str) -> None:
    """Move ``staging`` to ``folder``; an older ``folder`` goes only once the new one is in place."""
    if not os.path.lexists(folder):
        try:
            os.replace(staging, folder)
            return
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another run put a set there since we looked: replace it like any older set.
    old = folder.parent / f".stemdesk.{tag}.old"
    journal = folder.parent / f".stemdesk.{tag}.swap"
    # The journal names the folder, so that a run killed between the two
    # renames can be undone by the next (recover_output_folder).
    journal.write_text(folder.name, encoding="utf-8", errors="surrogateescape")
    try:
        os.replace(folder, old)
        try:
            os.replace(staging, folder)
        except BaseException:
            os.replace(old, folder)
            raise
    finally:
        journal.unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)
