"""Each song's practice set-up on disk, restored when the song is opened again.

One JSON file per song in the user's data folder
(``~/.local/share/stemdesk/practice/<song key>.json`` on Linux), named by
:func:`stemdesk.analysis.store.song_key` (a digest of the decoded samples, as
the stem cache and the beat grids use), so a renamed file keeps its loops and
markers and another model's stems still find them. It holds the
:class:`~stemdesk.practice.PracticeSetup` and the mixer's controls by stem
name; a corrected beat grid is kept beside it by
:func:`stemdesk.analysis.store.save_grid`. Written whole under a
temporary name and renamed; a damaged or foreign file is logged and ignored
(the song opens with a fresh set-up), never an error.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from .audio import atomic_path
from .errors import StemdeskError
from .playback.mixer import MixerState, StemControl
from .practice import PracticeSetup

log = logging.getLogger(__name__)

_FORMAT = 1


def default_practice_root() -> Path:
    """``<the user's data folder>/stemdesk/practice``."""
    return platformdirs.user_data_path("stemdesk") / "practice"


class StemSetting(BaseModel):
    """One stem's strip as saved: ``gain_db`` None is a closed fader (-inf dB, which JSON lacks)."""

    model_config = ConfigDict(frozen=True)

    gain_db: float | None = 0.0
    mute: bool = False
    solo: bool = False


class SavedPractice(BaseModel):
    """What is kept of one song: its practice set-up and its mixer."""

    model_config = ConfigDict(frozen=True)

    format: int = _FORMAT
    practice: PracticeSetup = PracticeSetup()
    stems: dict[str, StemSetting] = {}
    master_db: float | None = 0.0

    @classmethod
    def of(cls, practice: PracticeSetup, mixer: MixerState | None) -> SavedPractice:
        if mixer is None:
            return cls(practice=practice)
        stems = {
            name: StemSetting(gain_db=_finite_or_none(c.gain_db), mute=c.mute, solo=c.solo)
            for name, c in mixer.controls.items()
        }
        return cls(practice=practice, stems=stems, master_db=_finite_or_none(mixer.master_db))

    def mixer_for(self, stems: tuple[str, ...]) -> MixerState:
        """The saved mix applied to ``stems``: saved stems of those names, the others at 0 dB."""
        controls = {}
        for name in stems:
            saved = self.stems.get(name)
            controls[name] = (
                StemControl(_db(saved.gain_db), saved.mute, saved.solo) if saved is not None else StemControl()
            )
        return MixerState(controls, master_db=_db(self.master_db))


class PracticeStore:
    """Saved practice set-ups, one file per song identity, in ``root`` (default :func:`default_practice_root`)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = default_practice_root() if root is None else Path(root)

    def path(self, identity: str) -> Path:
        if not identity.isalnum():
            raise ValueError(f"not a song identity: {identity!r}")
        return self.root / f"{identity}.json"

    def load(self, identity: str) -> SavedPractice | None:
        """The set-up saved for ``identity``, or None (never saved, or unreadable: logged)."""
        path = self.path(identity)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("cannot read the practice set-up %s: %s", path, error)
            return None
        try:
            saved = SavedPractice.model_validate_json(text)
        except ValidationError as error:
            log.warning("ignoring the damaged practice set-up %s: %s", path, str(error).splitlines()[0])
            return None
        return saved if saved.format == _FORMAT else None

    def save(self, identity: str, saved: SavedPractice) -> bool:
        """Keep ``saved`` for ``identity``; False (logged) when the folder cannot be written."""
        path = self.path(identity)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temp:
                temp.write_text(saved.model_dump_json(indent=1), encoding="utf-8")
        except (OSError, StemdeskError) as error:
            log.warning("cannot save the practice set-up %s: %s", path, error)
            return False
        return True


def _finite_or_none(db: float) -> float | None:
    return None if math.isinf(db) else float(db)


def _db(saved: float | None) -> float:
    return -math.inf if saved is None else saved
