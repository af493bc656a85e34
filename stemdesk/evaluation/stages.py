"""Songs as a second-stage model meets them: the input is what Demucs' "other" holds.

A model for the guitar inside Demucs' "other" is scored on that "other", not on the song:
the identity is then "other" itself taken as the guitar, and the oracle the best ratio
mask on it. Two first stages can supply it:

* none (the oracle first stage): the sum of the song's guitar, piano and other stems,
  what a perfect Demucs would leave;
* a real one, cached beside the stems by ``python -m stemdesk.training.first_stage``
  (e.g. ``htdemucs.other.wav``, Demucs on the song's full mix): scored this way a model
  is scored through the whole chain, htdemucs and then the model, with everything
  Demucs leaves in or takes away.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from stemdesk.datasets import Track
from stemdesk.errors import StemdeskError
from stemdesk.instruments import class_of_stem

#: The classes Demucs' "other" holds: every one but vocals, drums and bass.
OTHER_CLASSES = ("guitar", "piano", "other")


def songs_at_stage(songs: list[Track], stage: str = "mix", first_stage: str | None = None) -> list[Track]:
    """``songs`` as a model at ``stage`` meets them: as they are ("mix"), or ("other") those with
    something Demucs' "other" would hold, each through :func:`as_other_stage`.

    Raises StemdeskError for a ``first_stage`` with the "mix" stage, or a missing cached output.
    """
    if stage == "other":
        # A song of drums, bass and vocals only gives Demucs' "other" nothing to hold.
        return [as_other_stage(song, first_stage) for song in songs if set(song.stems) & set(OTHER_CLASSES)]
    if first_stage is not None:
        raise StemdeskError("--first-stage only applies with --stage other")
    return songs


def as_other_stage(track: Track, first_stage: str | None = None) -> Track:
    """``track`` with only the classes Demucs' "other" holds (and their substems), and as its
    mixture the cached ``<first_stage>.wav`` beside its mixture file (or, with no first stage,
    their sum).

    Raises StemdeskError when the cached output is missing.
    """
    stems = {name: sources for name, sources in track.stems.items() if name in OTHER_CLASSES}
    substems = {name: sources for name, sources in track.substems.items() if class_of_stem(name) in OTHER_CLASSES}
    not_separated = tuple(name for name in track.not_separated if name in OTHER_CLASSES)
    metadata = {**track.metadata, "not_separated": not_separated}
    if first_stage is None:
        return replace(track, stems=stems, substems=substems, mixture=None, metadata=metadata)
    if not isinstance(track.mixture, Path):
        raise StemdeskError(f"track {track.name!r} has no mixture file beside which a first stage could be cached")
    cached = track.mixture.parent / f"{first_stage}.wav"
    if not cached.is_file():
        raise StemdeskError(f"no {cached}: run python -m stemdesk.training.first_stage on this split first")
    return replace(track, stems=stems, substems=substems, mixture=cached, metadata=metadata)
