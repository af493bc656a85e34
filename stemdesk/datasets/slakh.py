"""Slakh2100: ``TrackNNNNN/metadata.yaml`` gives each stem's General MIDI program.

Stems ``Sxx`` whose ``audio_rendered`` is true lie in ``stems/Sxx.flac``
(the metadata's ``audio_dir``), the mix in ``mix.flac``. A stem's class
comes from its program through :func:`stemdesk.instruments.class_of_gm_program`,
with ``is_drum`` stems as drums.
"""

from __future__ import annotations

from pathlib import Path

from stemdesk.errors import StemdeskError
from stemdesk.instruments import class_of_gm_program

from .track import Track
from .yaml_files import read_yaml_mapping

METADATA = "metadata.yaml"
# The redux release is FLAC; the original one and some conversions are WAV.
_AUDIO_SUFFIXES = (".flac", ".wav")


def is_slakh_folder(folder: Path) -> bool:
    return (folder / METADATA).is_file() and (folder / "stems").is_dir()


def slakh_track(folder: Path) -> Track:
    """The song in one Slakh2100 folder.

    ``metadata["instruments"]`` maps each class to the MIDI program names
    filed under it; ``"uuid"`` is the song's id in the Lakh MIDI dataset.
    """
    metadata_path = folder / METADATA
    raw = read_yaml_mapping(metadata_path)
    audio_dir = folder / str(raw.get("audio_dir") or "stems")
    stems_meta = raw.get("stems")
    if not isinstance(stems_meta, dict) or not stems_meta:
        raise StemdeskError(f"'{metadata_path}' lists no stems")
    stems: dict[str, list[Path]] = {}
    instruments: dict[str, list[str]] = {}
    for stem_id, stem in sorted(stems_meta.items()):
        if not isinstance(stem, dict):
            raise StemdeskError(f"'{metadata_path}': stem {stem_id} is not a mapping")
        # Slakh skips rendering some rare patches; those stems have no audio at all.
        if not stem.get("audio_rendered", False):
            continue
        try:
            name = class_of_gm_program(int(stem["program_num"]), bool(stem.get("is_drum", False)))
        except (KeyError, TypeError, ValueError) as error:
            raise StemdeskError(f"'{metadata_path}': stem {stem_id} has no usable program_num ({error})") from None
        stems.setdefault(name, []).append(_audio_file(audio_dir / str(stem_id), metadata_path))
        instruments.setdefault(name, []).append(str(stem.get("midi_program_name") or stem.get("inst_class", "")))
    return Track(
        name=folder.name,
        stems=stems,
        mixture=_audio_file(folder / "mix", metadata_path),
        metadata={
            "format": "slakh2100",
            "split": folder.parent.name,
            "not_separated": (),
            "instruments": instruments,
            "uuid": raw.get("UUID"),
        },
    )


def _audio_file(without_suffix: Path, metadata_path: Path) -> Path:
    for suffix in _AUDIO_SUFFIXES:
        path = without_suffix.with_suffix(suffix)
        if path.is_file():
            return path
    raise StemdeskError(f"'{metadata_path}': no audio file {without_suffix.name}.flac or .wav")
