"""stemdesk's own rendered multitracks: MUSDB18-HQ's folder layout with any stemdesk classes.

``<split>/<song>/mixture.wav`` plus one ``<class>.wav`` per class the song
has, and the renderer's ``metadata.json``. Every instrument is rendered on
its own, so a class without a file is silence in that song. A song with a lead
guitar also has ``guitar-lead.wav`` (and ``guitar-rhythm.wav`` when other guitar
parts play), which sum to its ``guitar.wav``. The renderer
writes ``metadata.json`` last: a folder without it is a render that was
interrupted, and is no song yet.
"""

from __future__ import annotations

import json
from pathlib import Path

from stemdesk.errors import StemdeskError
from stemdesk.instruments import CLASSES, SUBSTEMS

from .track import Track

METADATA = "metadata.json"


def is_rendered_folder(folder: Path) -> bool:
    return (folder / "mixture.wav").is_file() and (folder / METADATA).is_file()


def rendered_track(folder: Path) -> Track:
    """The song in one rendered folder; ``metadata["rendered"]`` holds its ``metadata.json``."""
    stems = {name: [folder / f"{name}.wav"] for name in CLASSES if (folder / f"{name}.wav").is_file()}
    substems = {name: [folder / f"{name}.wav"] for names in SUBSTEMS.values() for name in names
                if (folder / f"{name}.wav").is_file()}
    try:
        rendered = json.loads((folder / METADATA).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StemdeskError(f"cannot read '{folder / METADATA}': {error}") from error
    return Track(
        name=folder.name,
        stems=stems,
        mixture=folder / "mixture.wav",
        metadata={"format": "stemdesk", "split": folder.parent.name, "not_separated": (), "rendered": rendered},
        substems=substems,
    )
