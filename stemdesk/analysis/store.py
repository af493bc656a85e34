"""Beat grids on disk: the analysed grid cached with the song, the user's corrected grid kept.

Both are one small JSON file per song (:meth:`BeatGrid.to_dict`), named by
:func:`song_key` — a digest of the decoded mixture, like the stem cache's keys, so a
renamed or re-tagged file finds its grid and an edited one does not:

    <user cache>/stemdesk/beats/<key>-<source>.json   analysed (source: "mix" or a model's identity)
    <user data>/stemdesk/grids/<key>.json             corrected by the user (kept until deleted)

The analysis cache is disposable: a damaged or outdated file is a miss. The
corrected grid is the user's work: a damaged one is reported, never overwritten
silently by a load. Writes are atomic (temporary file + rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import platformdirs

from stemdesk.analysis.grid import BeatGrid
from stemdesk.audio import Audio, atomic_path
from stemdesk.errors import StemdeskError

log = logging.getLogger(__name__)

#: Bumped whenever the analysis changes its results, so old cached grids miss.
ANALYSIS_VERSION = 2


def song_key(mixture: Audio) -> str:
    """32 hex digits naming a song by its decoded samples, rate and shape."""
    digest = hashlib.sha256(json.dumps({"rate": mixture.rate, "shape": list(mixture.samples.shape)}).encode())
    digest.update(mixture.samples.data)
    return digest.hexdigest()[:32]


def default_analysis_root() -> Path:
    """Where analysed grids are cached, e.g. ``~/.cache/stemdesk/beats`` on Linux."""
    return platformdirs.user_cache_path("stemdesk") / "beats"


def default_grid_root() -> Path:
    """Where corrected grids are kept, e.g. ``~/.local/share/stemdesk/grids`` on Linux."""
    return platformdirs.user_data_path("stemdesk") / "grids"


def load_analysis(key: str, source: str = "mix", root: str | os.PathLike | None = None) -> BeatGrid | None:
    """The cached analysed grid of song ``key`` (analysed from ``source``), or None on a miss."""
    path = _analysis_path(key, source, root)
    try:
        data = json.loads(path.read_text())
        if data.get("analysis_version") != ANALYSIS_VERSION:
            return None
        return BeatGrid.from_dict(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, StemdeskError, AttributeError) as problem:
        log.warning("cached beat grid %s is unreadable (%s); analysing again", path, problem)
        return None


def store_analysis(key: str, grid: BeatGrid, source: str = "mix", root: str | os.PathLike | None = None) -> None:
    """Cache the analysed ``grid`` of song ``key``; a cache that cannot be written is logged, not raised."""
    path = _analysis_path(key, source, root)
    try:
        _write(path, {**grid.to_dict(), "analysis_version": ANALYSIS_VERSION})
    except StemdeskError as problem:
        log.warning("could not cache the beat grid in %s: %s", path.parent, problem)


def load_grid(key: str, root: str | os.PathLike | None = None) -> BeatGrid | None:
    """The user's corrected grid of song ``key``, or None if there is none.

    Raises :class:`StemdeskError` if the file exists but cannot be read.
    """
    path = _grid_path(key, root)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as problem:
        raise StemdeskError(f"cannot read the corrected beat grid {path}: {problem.strerror}") from None
    try:
        return BeatGrid.from_dict(json.loads(text))
    except (ValueError, AttributeError, StemdeskError) as problem:
        raise StemdeskError(f"the corrected beat grid {path} is damaged: {problem}") from None


def save_grid(key: str, grid: BeatGrid, root: str | os.PathLike | None = None) -> Path:
    """Keep the user's corrected ``grid`` of song ``key``; returns the file written."""
    path = _grid_path(key, root)
    _write(path, grid.to_dict())
    return path


def forget_grid(key: str, root: str | os.PathLike | None = None) -> None:
    """Delete the user's corrected grid of song ``key`` (back to the analysed one)."""
    _grid_path(key, root).unlink(missing_ok=True)


def _write(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically; any failure is a :class:`StemdeskError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise StemdeskError(f"cannot create the folder {path.parent}: {problem.strerror}") from None
    with atomic_path(path) as temp:
        Path(temp).write_text(json.dumps(data))


def _analysis_path(key: str, source: str, root) -> Path:
    name = hashlib.sha256(source.encode()).hexdigest()[:12] if source != "mix" else "mix"
    return Path(root if root is not None else default_analysis_root()) / f"{_checked(key)}-{name}.json"


def _grid_path(key: str, root) -> Path:
    return Path(root if root is not None else default_grid_root()) / f"{_checked(key)}.json"


def _checked(key: str) -> str:
    if len(key) != 32 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"not a song key: {key!r}")
    return key
