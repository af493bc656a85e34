"""Temporary names that say who made them, and removal of what a killed run left.

Every temporary file or folder stemdesk writes beside its output is hidden and
carries an owner tag, ``<host>-<pid>-<random>``. A run that is killed (SIGKILL,
a power cut) cannot remove them; the next run that writes to the same folder
does: a leftover of this host whose process is gone is removed, one of a live
process (another stemdesk writing there right now) or of another host (a
shared disk) is left alone. The names of versions before the tags
(``.name.1a2b3c4d.part``, ``.stem.1a2b3c4d.staging.wav``) name no owner; they
are removed too.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from contextlib import suppress
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"
_TAGGED = re.compile(
    r"^\..*\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]{8}\.(?P<kind>part|staging|old|swap)$", re.DOTALL
)
_UNTAGGED = re.compile(r"^\..*\.[0-9a-f]{8}\.(part|staging\.wav|staging\.flac)$", re.DOTALL)


def owner_tag() -> str:
    """A fresh ``<host>-<pid>-<random>`` for the temporary names of one write."""
    return f"{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"


def dead_leftovers(folder: str | os.PathLike, kind: str | None = None) -> list[Path]:
    """Temporary entries in ``folder`` whose writer is gone, optionally of one ``kind``
    ("part", "staging", "old" or "swap"); [] when the folder cannot be listed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        tagged = _TAGGED.match(name)
        if tagged:
            if (kind is None or tagged["kind"] == kind) and _is_gone(tagged["host"], int(tagged["pid"])):
                found.append(Path(folder) / name)
        elif kind in (None, "part") and _UNTAGGED.match(name):
            found.append(Path(folder) / name)
    return sorted(found)


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Remove the dead leftovers in ``folder`` (files and folders); return what was removed."""
    removed = []
    for path in dead_leftovers(folder):
        # Cleanup is best effort: a leftover that cannot go now goes next time.
        with suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def _is_gone(host: str, pid: int) -> bool:
    if host != _HOST:
        return False
    if pid == os.getpid():
        # Our own: still in use by this process.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        # Alive, but another user's.
        return False
    return False
