"""Find the songs under a folder, whatever multitrack layout each one has.

A dataset root is searched down to three levels (``<root>/<dataset>/<split>/<song>``,
``<root>/<split>/<song>``, ``<root>/<song>`` or a song folder itself); each
folder is recognised by the files that only its layout has, so one root may
hold several datasets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from stemdesk.errors import StemdeskError

from .medleydb import is_medleydb_folder, medleydb_track
from .musdb import MP4_SUFFIX, is_musdb_hq_folder, musdb_hq_track, musdb_stem_track
from .rendered import is_rendered_folder, rendered_track
from .slakh import is_slakh_folder, slakh_track
from .track import Track

_MAX_DEPTH = 3


def load_dataset(root: str | os.PathLike, split: str | None = None) -> list[Track]:
    """Every song under ``root``, sorted by split then name.

    ``split`` keeps only the songs whose ``metadata["split"]`` (the folder
    holding them) has that name, e.g. ``"test"``.

    Raises:
        StemdeskError: ``root`` is not a folder, holds no song in a known
            layout, or a song's metadata is unreadable or names missing files.
    """
    root = Path(root)
    if not root.is_dir():
        raise StemdeskError(f"dataset folder '{root}' does not exist or is not a folder")
    tracks = list(_tracks_under(root, depth=0))
    if split is not None:
        tracks = [track for track in tracks if track.metadata["split"] == split]
    if not tracks:
        where = f"split '{split}' of '{root}'" if split is not None else f"'{root}'"
        raise StemdeskError(
            f"no multitrack songs found in {where} (looked for MUSDB18(-HQ), MedleyDB, "
            "Slakh2100 and stemdesk-rendered layouts)"
        )
    return sorted(tracks, key=lambda track: (track.metadata["split"], track.name))


def _tracks_under(folder: Path, depth: int) -> Iterator[Track]:
    track = _track_in(folder)
    if track is not None:
        # A song's own subfolders (stems/, MIDI/, <Song>_STEMS/) hold no songs.
        yield track
        return
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.name.endswith(MP4_SUFFIX):
            yield musdb_stem_track(path)
        elif path.is_dir() and depth < _MAX_DEPTH:
            yield from _tracks_under(path, depth + 1)


def _track_in(folder: Path) -> Track | None:
    """The song whose files lie in ``folder``, or None when it is not a song folder."""
    if is_medleydb_folder(folder):
        return medleydb_track(folder)
    if is_slakh_folder(folder):
        return slakh_track(folder)
    if is_musdb_hq_folder(folder):
        return musdb_hq_track(folder)
    if is_rendered_folder(folder):
        return rendered_track(folder)
    return None
