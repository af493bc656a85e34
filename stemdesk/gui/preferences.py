"""What the musician sets once and keeps: preferences and recent files, in QSettings.

The window takes its QSettings from the caller, so tests (and a portable
install) can point it at an ini file instead of the user's real settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, QSettings, Signal

from stemdesk.separate import DEVICES
from stemdesk.stem_cache import DEFAULT_MAX_BYTES

#: Export format label -> (file format, libsndfile subtype).
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "WAV 16-bit": ("wav", "PCM_16"),
    "WAV 24-bit": ("wav", "PCM_24"),
    "WAV 32-bit float": ("wav", "FLOAT"),
    "FLAC 16-bit": ("flac", "PCM_16"),
    "FLAC 24-bit": ("flac", "PCM_24"),
}
BUFFER_SIZES = (256, 512, 1024, 2048, 4096)
MEGABYTE = 2**20


def default_export_folder() -> Path:
    """``<the user's music folder>/stemdesk``."""
    return Path(platformdirs.user_music_dir()) / "stemdesk"


@dataclass(frozen=True)
class Preferences:
    """The settings of the Preferences dialog.

    separation_model: the model or preset id songs are separated with; "" until one
        is chosen: the catalogue's default (Demucs v4 when installed, else Spleeter).
    compute_device: "auto", "cpu" or "gpu" (see :class:`stemdesk.separate.Separator`).
    output_device: a sound output's name, or "" for the system default.
    buffer_size: frames per audio block.
    export_format: a key of EXPORT_FORMATS.
    export_folder: the folder the last export went to (first: the music folder's stemdesk).
    export_kind: what was exported last: "stems", "rest" or "mix".
    export_stems: the stems chosen last, comma-separated (for "rest": the one left out).
    cache_max_mb: the size cap of the stem cache, in MiB.
    """

    separation_model: str = ""
    compute_device: str = "auto"
    output_device: str = ""
    buffer_size: int = 1024
    export_format: str = "WAV 32-bit float"
    export_folder: str = ""
    export_kind: str = "stems"
    export_stems: str = ""
    cache_max_mb: int = DEFAULT_MAX_BYTES // MEGABYTE

    def __post_init__(self) -> None:
        # Settings files outlive versions and may be hand-edited: fall back instead of failing.
        if self.compute_device not in DEVICES:
            object.__setattr__(self, "compute_device", "auto")
        if self.export_format not in EXPORT_FORMATS:
            object.__setattr__(self, "export_format", Preferences.export_format)
        if self.export_kind not in ("stems", "rest", "mix"):
            object.__setattr__(self, "export_kind", "stems")
        if not self.export_folder:
            object.__setattr__(self, "export_folder", str(default_export_folder()))
        object.__setattr__(self, "buffer_size", max(64, int(self.buffer_size)))
        object.__setattr__(self, "cache_max_mb", max(1, int(self.cache_max_mb)))

    @property
    def cache_max_bytes(self) -> int:
        return self.cache_max_mb * MEGABYTE

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        values = {}
        for field in fields(cls):
            stored = settings.value(f"preferences/{field.name}")
            if stored is None:
                continue
            try:
                values[field.name] = int(stored) if field.type == "int" else str(stored)
            except (TypeError, ValueError):
                continue
        return cls(**values)

    def save(self, settings: QSettings) -> None:
        for field in fields(self):
            settings.setValue(f"preferences/{field.name}", getattr(self, field.name))
        settings.sync()


class RecentFiles(QObject):
    """The songs opened last, newest first, kept in QSettings; fires ``changed``."""

    changed = Signal()
    LIMIT = 10

    def __init__(self, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings

    def paths(self) -> list[Path]:
        stored = self._settings.value("recent/files") or []
        if isinstance(stored, str):
            # QSettings' ini backend gives a single-item list back as a plain string.
            stored = [stored]
        return [Path(text) for text in stored if text]

    def add(self, path: Path) -> None:
        path = Path(path).resolve()
        kept = [path] + [known for known in self.paths() if known != path]
        self._store(kept[: self.LIMIT])

    def clear(self) -> None:
        self._store([])

    def _store(self, paths: list[Path]) -> None:
        self._settings.setValue("recent/files", [str(path) for path in paths])
        self._settings.sync()
        self.changed.emit()
