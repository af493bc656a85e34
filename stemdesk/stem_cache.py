"""Finished separations kept on disk, so that reopening a song is instant.

An entry is a folder named by its key (a hash of the decoded audio and of the
model that separated it) holding one ``.npy`` float32 array ``(channels,
samples)`` per stem (loaded memory-mapped) and a ``manifest.json`` listing
the stems in order with each array's shape and CRC-32::

    <root>/<key>/manifest.json
    <root>/<key>/0.npy, 1.npy, ...

Entries are written whole into a hidden temporary folder and renamed into
place, so a reader never sees half an entry. Nothing is fsynced: a crash can
still leave a damaged entry behind, and :meth:`StemCache.load` detects that
(missing or short file, bad manifest, checksum mismatch), deletes the entry
and reports a miss, so the caller simply separates again.

The cache is bounded: after each store the least recently used entries (by
the manifest's modification time, which a load refreshes) are deleted until
the whole folder fits in ``max_bytes``.

Several threads or processes may share one cache folder: the worst a
concurrent :meth:`StemCache.clear` or eviction can do is turn a hit into a
miss or make a store give up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import platformdirs

from .audio import Audio
from .errors import StemdeskError
from .separators import ENGINE_REVISION, SeparatorCard

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4 * 2**30
MANIFEST = "manifest.json"
_FORMAT = 1
_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
_TEMP_PREFIX = ".incoming-"
# A temporary folder this old belongs to a store that crashed, not one still running.
_STALE_TEMP_SECONDS = 3600


def default_cache_root() -> Path:
    """The user's cache folder for stems, e.g. ``~/.cache/stemdesk/stems`` on Linux."""
    return platformdirs.user_cache_path("stemdesk") / "stems"


class _CorruptEntry(Exception):
    """An entry on disk that cannot be trusted (internal to this module)."""


class StemCache:
    """Separated stems on disk, keyed by audio content and model.

    Args:
        root: the cache folder (created on the first store); default
            :func:`default_cache_root`.
        max_bytes: the most the folder may hold after a store; an entry
            larger than that on its own is not stored at all.
    """

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.root = default_cache_root() if root is None else Path(root)
        self.max_bytes = int(max_bytes)

    @staticmethod
    def key(mixture: Audio, card: SeparatorCard) -> str:
        """32 hex digits naming the separation of ``mixture`` by ``card``'s model (or preset).

        Hashes the decoded samples (so a renamed or re-tagged file still hits,
        and a single changed sample misses), their rate and shape, the model's
        id, version and identity (every field of its card that shapes the stems,
        the weights' digest among them: re-exported weights miss even if someone
        forgot to bump the version) and the engine's revision (stems made by
        older engine code miss). SHA-256 because it runs on the CPU's SHA
        extensions: about 0.15 s for a 10-minute stereo song.
        """
        digest = hashlib.sha256()
        header = {
            "rate": mixture.rate,
            "shape": list(mixture.samples.shape),
            "dtype": str(mixture.samples.dtype),
            "model": card.id,
            "version": card.version,
            "identity": card.identity,
            "engine": ENGINE_REVISION,
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        digest.update(mixture.samples.data)
        return digest.hexdigest()[:32]

    def load(self, key: str) -> dict[str, Audio] | None:
        """The stems stored under ``key`` in their stored order, or None on a miss.

        The arrays are read-only views of the cached files, memory-mapped
        (entries are only ever replaced by renaming, never rewritten in
        place, so a mapping stays valid even if the entry is evicted). A
        damaged entry is deleted, logged and reported as a miss. A hit marks
        the entry as recently used.
        """
        entry = self._entry(key)
        manifest_path = entry / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            stems = _read_entry(entry)
        except _CorruptEntry as problem:
            log.warning("stem cache entry %s is damaged (%s); separating again", key, problem)
            _remove_tree(entry)
            return None
        _touch(manifest_path)
        return stems

    def store(self, key: str, stems: Mapping[str, Audio]) -> bool:
        """Keep ``stems`` (all at one rate) under ``key``; then evict down to ``max_bytes``.

        A cache is an optimisation, so a failure to write (disk full, no
        permission) is logged and returns False instead of raising.

        Returns:
            True when the entry is on disk afterwards.
        """
        entry = self._entry(key)
        if not stems:
            raise ValueError("no stems to store")
        rates = {audio.rate for audio in stems.values()}
        if len(rates) != 1:
            raise ValueError(f"stems have different rates: {sorted(rates)}")
        size = sum(audio.samples.nbytes for audio in stems.values())
        if size > self.max_bytes:
            log.info("stems of %s (%d MB) exceed the cache size; not cached", key, size >> 20)
            return False
        temp = self.root / f"{_TEMP_PREFIX}{key}-{secrets.token_hex(4)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temp.mkdir()
            _write_entry(temp, stems, rates.pop())
            _replace_entry(temp, entry)
        except OSError as error:
            log.warning("cannot keep stems in the cache %s: %s", self.root, error.strerror or error)
            _remove_tree(temp)
            return False
        self._evict(keep=entry)
        return True

    def size_bytes(self) -> int:
        """Bytes of every file in the cache folder (0 when it does not exist)."""
        if not self.root.is_dir():
            return 0
        return sum(_tree_size(child) for child in self.root.iterdir())

    def clear(self) -> None:
        """Delete every entry (and any leftover temporary folder).

        Raises:
            StemdeskError: something in the folder cannot be deleted.
        """
        if not self.root.is_dir():
            return
        for child in self.root.iterdir():
            try:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StemdeskError(
                    f"cannot clear the stem cache: '{child}' cannot be deleted ({error.strerror or error})"
                ) from error

    def _entry(self, key: str) -> Path:
        # The key becomes a folder name: refuse anything that could point elsewhere.
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a stem cache key: {key!r}")
        return self.root / key

    def _evict(self, keep: Path) -> None:
        """Delete least recently used entries until the folder fits; never ``keep``."""
        entries: list[tuple[int, str, Path, int]] = []
        total = 0
        for child in self.root.iterdir():
            size = _tree_size(child)
            total += size
            if child.name.startswith(_TEMP_PREFIX):
                if _age_seconds(child) > _STALE_TEMP_SECONDS:
                    _remove_tree(child)
                    total -= size
            elif _KEY_PATTERN.fullmatch(child.name) and child != keep:
                entries.append((_last_used_ns(child), child.name, child, size))
        for _, _, child, size in sorted(entries):
            if total <= self.max_bytes:
                break
            _remove_tree(child)
            total -= size


def _write_entry(folder: Path, stems: Mapping[str, Audio], rate: int) -> None:
    listed = []
    for index, (name, audio) in enumerate(stems.items()):
        file_name = f"{index}.npy"
        np.save(folder / file_name, audio.samples, allow_pickle=False)
        listed.append({
            "name": name,
            "file": file_name,
            "shape": list(audio.samples.shape),
            "crc32": zlib.crc32(audio.samples.data),
        })
    # Written last: an entry with a manifest has all its arrays.
    manifest = {"format": _FORMAT, "rate": rate, "stems": listed}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _touch(folder / MANIFEST)


def _replace_entry(temp: Path, entry: Path) -> None:
    """Rename the finished ``temp`` folder to ``entry``, replacing an older one."""
    if entry.exists():
        _remove_tree(entry)
    try:
        os.rename(temp, entry)
    except OSError:
        # Another thread or process stored the same key meanwhile: same
        # audio, same model, same stems; keep theirs.
        if not (entry / MANIFEST).is_file():
            raise
        _remove_tree(temp)


def _read_entry(entry: Path) -> dict[str, Audio]:
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        if manifest["format"] != _FORMAT:
            raise _CorruptEntry(f"unknown format {manifest['format']!r}")
        rate = int(manifest["rate"])
        listed = manifest["stems"]
        if not listed:
            raise _CorruptEntry("no stems listed")
        stems = {}
        for item in listed:
            # Memory-mapped: a long song's stems stay in the page cache, which
            # the OS can drop and re-read, instead of all in the process's RAM.
            samples = np.load(entry / Path(item["file"]).name, mmap_mode="r", allow_pickle=False)
            if samples.dtype != np.float32 or list(samples.shape) != item["shape"] or samples.ndim != 2:
                raise _CorruptEntry(f"{item['file']} holds {samples.dtype} {samples.shape}")
            if not samples.flags.c_contiguous or zlib.crc32(samples.data) != item["crc32"]:
                raise _CorruptEntry(f"{item['file']} fails its checksum")
            stems[str(item["name"])] = Audio(samples, rate)
    except _CorruptEntry:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        # np.load reports a short or garbled file as ValueError or EOFError,
        # a bad manifest gives the JSON, key and type errors.
        raise _CorruptEntry(f"{type(error).__name__}: {error}") from error
    if len({audio.samples.shape for audio in stems.values()}) != 1:
        raise _CorruptEntry("stems differ in shape")
    return stems


def _touch(path: Path) -> None:
    # time_ns rather than the filesystem's own clock, which on Linux ticks in
    # jiffies: two stores in a row would tie and the LRU order would be a guess.
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _last_used_ns(entry: Path) -> int:
    try:
        return (entry / MANIFEST).stat().st_mtime_ns
    except OSError:
        # No manifest: a damaged entry, the first to go.
        return 0


def _age_seconds(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _tree_size(path: Path) -> int:
    try:
        if path.is_file() or path.is_symlink():
            return path.lstat().st_size
        return sum(_tree_size(child) for child in path.iterdir())
    except OSError:
        # Deleted by a concurrent clear or eviction while we counted.
        return 0


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
