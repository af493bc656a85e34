"""MedleyDB: ``<Song>/<Song>_METADATA.yaml`` names each stem's instrument(s) and file.

The stems (``S01``, ``S02``...) lie in the metadata's ``stem_dir``
(``<Song>_STEMS``) and the mix is its ``mix_filename`` (``<Song>_MIX.wav``).
Instrument names from MedleyDB's taxonomy map onto stemdesk classes through
:data:`INSTRUMENT_CLASSES`, grouped the way :func:`stemdesk.instruments.class_of_gm_program`
groups General MIDI (harpsichord is a piano, marimba and banjo are "other") so
that one class means the same instruments whatever data a model saw. A name
not in the table counts as "other".
"""

from __future__ import annotations

from pathlib import Path

from stemdesk.errors import StemdeskError

from .track import Track
from .yaml_files import read_yaml_mapping

METADATA_SUFFIX = "_METADATA.yaml"

#: MedleyDB instrument name -> stemdesk class, for every name that is not "other".
INSTRUMENT_CLASSES: dict[str, str] = {
    **dict.fromkeys(
        ("male singer", "female singer", "male speaker", "female speaker", "male rapper",
         "female rapper", "beatboxing", "vocalists", "choir", "male choir", "female choir"),
        "vocals",
    ),
    **dict.fromkeys(
        ("drum set", "drum machine", "kick drum", "snare drum", "bass drum", "toms", "high hat",
         "cymbal", "auxiliary percussion", "tambourine", "shaker", "maracas", "cabasa", "claps",
         "cowbell", "castanet", "guiro", "rattle", "sleigh bells", "triangle", "gong", "gu",
         "bongo", "conga", "darbuka", "doumbek", "tabla"),
        "drums",
    ),
    **dict.fromkeys(("electric bass", "double bass"), "bass"),
    **dict.fromkeys(
        ("acoustic guitar", "clean electric guitar", "distorted electric guitar",
         "lap steel guitar", "slide guitar"),
        "guitar",
    ),
    **dict.fromkeys(("piano", "tack piano", "electric piano", "harpsichord"), "piano"),
}


def is_medleydb_folder(folder: Path) -> bool:
    return (folder / f"{folder.name}{METADATA_SUFFIX}").is_file()


def class_of_instrument(instrument: str | list[str]) -> str:
    """stemdesk class of one MedleyDB stem's instrument, or of its list of instruments.

    A stem labelled with instruments of different classes is "other": no
    single class could claim it without taking in a neighbour's sound.
    """
    names = [instrument] if isinstance(instrument, str) else list(instrument)
    classes = {INSTRUMENT_CLASSES.get(str(name).strip().lower(), "other") for name in names}
    return classes.pop() if len(classes) == 1 else "other"


def medleydb_track(folder: Path) -> Track:
    """The song in one MedleyDB folder.

    ``metadata["instruments"]`` maps each class to the MedleyDB instrument
    names filed under it; ``"has_bleed"`` says whether other instruments leak
    into the stems (microphone bleed in live recordings), which a training
    set may prefer to leave out.
    """
    metadata_path = folder / f"{folder.name}{METADATA_SUFFIX}"
    raw = read_yaml_mapping(metadata_path)
    stem_dir = folder / str(raw.get("stem_dir") or f"{folder.name}_STEMS")
    stems_meta = raw.get("stems")
    if not isinstance(stems_meta, dict) or not stems_meta:
        raise StemdeskError(f"'{metadata_path}' lists no stems")
    stems: dict[str, list[Path]] = {}
    instruments: dict[str, list[str]] = {}
    for stem_id, stem in sorted(stems_meta.items()):
        if not isinstance(stem, dict) or "filename" not in stem:
            raise StemdeskError(f"'{metadata_path}': stem {stem_id} has no filename")
        path = stem_dir / str(stem["filename"])
        if not path.is_file():
            raise StemdeskError(f"'{metadata_path}' lists stem {stem_id} as '{path}', which does not exist")
        instrument = stem.get("instrument", "")
        name = class_of_instrument(instrument)
        stems.setdefault(name, []).append(path)
        instruments.setdefault(name, []).extend([instrument] if isinstance(instrument, str) else instrument)
    mix = folder / str(raw.get("mix_filename") or f"{folder.name}_MIX.wav")
    return Track(
        name=folder.name,
        stems=stems,
        mixture=mix if mix.is_file() else None,
        metadata={
            "format": "medleydb",
            "split": folder.parent.name,
            "not_separated": (),
            "instruments": instruments,
            "has_bleed": str(raw.get("has_bleed", "no")).lower() == "yes",
            "genre": raw.get("genre"),
        },
    )
