"""Which General MIDI SoundFonts are installed, and finding one by name or path.

Timbre variety comes from rendering with several SoundFonts; the held-out test set
must use one never used in training, so the SoundFont is always an explicit choice
recorded in each track's metadata. Debian installs them under /usr/share/sounds
(fluid-soundfont-gm: FluidR3_GM.sf2, timgm6mb-soundfont: TimGM6mb.sf2,
musescore-general-soundfont: MuseScore_General*.sf3); more folders can be listed in
``STEMDESK_SOUNDFONTS`` (separated like PATH).
"""

from __future__ import annotations

import os
from pathlib import Path

from stemdesk.errors import StemdeskError

_SYSTEM_FOLDERS = (
    "/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
    "/usr/local/share/soundfonts", "~/.local/share/soundfonts",
)
_SUFFIXES = (".sf2", ".sf3")


def soundfont_folders() -> list[Path]:
    """Folders searched, ``STEMDESK_SOUNDFONTS`` first."""
    extra = [folder for folder in os.environ.get("STEMDESK_SOUNDFONTS", "").split(os.pathsep) if folder]
    return [Path(folder).expanduser() for folder in (*extra, *_SYSTEM_FOLDERS)]


def installed_soundfonts() -> list[Path]:
    """Every SoundFont file in :func:`soundfont_folders`, each once.

    Links (Debian's default-GM.sf2 and the MuseScore_General.sf3 alternative) are
    resolved, so one font is never listed, and used, under two names.
    """
    found: dict[Path, Path] = {}
    for folder in soundfont_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in _SUFFIXES and path.is_file():
                found.setdefault(path.resolve(), path.resolve())
    return list(found.values())


def find_soundfont(name_or_path: str | os.PathLike) -> Path:
    """The SoundFont at a path, or the installed one whose file name (with or without the
    suffix, any case) is ``name_or_path``, e.g. "TimGM6mb" or "FluidR3_GM.sf2".

    Raises StemdeskError naming the installed ones when there is no such SoundFont.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    wanted = str(name_or_path).lower()
    for path in installed_soundfonts():
        if wanted in (path.name.lower(), path.stem.lower()):
            return path
    installed = ", ".join(path.name for path in installed_soundfonts()) or "none"
    raise StemdeskError(f"no SoundFont '{name_or_path}' (installed: {installed})")
