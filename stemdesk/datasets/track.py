"""One multitrack song in any dataset's layout, and its audio as stemdesk classes.

A loader only finds files and maps names; nothing is decoded until
:func:`stems_audio` or :func:`mixture_audio` is called, so listing a dataset
of thousands of songs is cheap and a training loader can decode songs in
worker processes (every source is a path or a picklable callable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, decode, resample
from stemdesk.errors import StemdeskError

#: Where one part of a stem comes from: an audio file, or a loader for audio
#: that is not a file of its own (one stream of a MUSDB18 ``.stem.mp4``).
AudioSource = Path | Callable[[], Audio]

#: Rate that :func:`stems_audio` and :func:`mixture_audio` deliver by default.
DEFAULT_RATE = 44_100


@dataclass(frozen=True)
class Track:
    """One song of a multitrack dataset.

    Attributes:
        name: the song's folder or file name, unique within its split.
        stems: stemdesk class -> the sources whose sum is that class's stem
            (MedleyDB and Slakh have several instruments per class). Only the
            classes the song has; a class missing here is silence in the song,
            unless ``metadata["not_separated"]`` lists it.
        mixture: the dataset's own mix, or None when it has none (the mix is
            then the sum of the stems).
        metadata: always ``"format"`` (``musdb18hq``, ``musdb18``,
            ``medleydb``, ``slakh2100`` or ``stemdesk``), ``"split"`` (the name
            of the folder holding the track: train/test/validation in the
            official layouts) and ``"not_separated"`` (classes that may play in
            the song but are mixed into its "other" stem, as MUSDB18 does with
            guitars and pianos: a model for them cannot be trained or scored
            on this track); plus what the format offers, such as
            ``"instruments"`` (class -> the dataset's own instrument names).
        substems: finer stems inside a class (:data:`stemdesk.instruments.SUBSTEMS`)
            where the dataset has them, name -> sources, as ``stems``: a rendered
            song with a lead guitar has "guitar-lead" (and "guitar-rhythm" when other
            guitar parts play), whose sum is its "guitar". A substem missing here is
            not known to be silent: its class's stem may hold it, unsplit.
    """

    name: str
    stems: dict[str, list[AudioSource]]
    mixture: AudioSource | None = None
    metadata: dict = field(default_factory=dict)
    substems: dict[str, list[AudioSource]] = field(default_factory=dict)

    @property
    def not_separated(self) -> tuple[str, ...]:
        return tuple(self.metadata.get("not_separated", ()))


def load_source(source: AudioSource, rate: int = DEFAULT_RATE) -> Audio:
    """Decode one source and resample it to ``rate``: float32 ``(channels, samples)``."""
    audio = source() if callable(source) else decode(source)
    return resample(audio, rate)


def stems_audio(track: Track, rate: int = DEFAULT_RATE, substems: bool = False) -> dict[str, Audio]:
    """Each class's stem: the sum of its sources, resampled to ``rate``; with ``substems``
    also each of ``track.substems`` (which overlap their class's stem: never sum them all).

    All stems get one shape ``(channels, samples)``: the most channels of any
    source (mono sources are spread over all channels, as a mono track panned
    centre sounds) and the longest source's length (shorter ones are padded
    with silence at their end).
    """
    sums: dict[str, np.ndarray] = {}
    # Source by source: a MedleyDB song can have 20 stem files, and holding
    # them all decoded at once would take gigabytes.
    for name, sources in {**track.stems, **(track.substems if substems else {})}.items():
        total = np.zeros((1, 0), dtype=np.float32)
        for source in sources:
            total = _add_padded(total, load_source(source, rate).samples, f"{track.name!r}, {name}")
        sums[name] = total
    if not sums:
        return {}
    channels = max(total.shape[0] for total in sums.values())
    length = max(total.shape[1] for total in sums.values())
    shape = (channels, length)
    return {name: Audio(_add_padded(np.zeros(shape, np.float32), total, f"{track.name!r}, {name}"), rate)
            for name, total in sums.items()}


def mixture_audio(track: Track, rate: int = DEFAULT_RATE) -> Audio:
    """The song's mix resampled to ``rate``: the dataset's mix file, or the sum of all stems."""
    if track.mixture is not None:
        return load_source(track.mixture, rate)
    stems = list(stems_audio(track, rate).values())
    if not stems:
        raise StemdeskError(f"track {track.name!r} has neither a mixture nor stems")
    return Audio(np.sum([stem.samples for stem in stems], axis=0), rate)


def _add_padded(total: np.ndarray, part: np.ndarray, where: str) -> np.ndarray:
    """``total + part`` for ``(channels, samples)`` arrays of different lengths; mono broadcasts."""
    channels = max(total.shape[0], part.shape[0])
    if {total.shape[0], part.shape[0]} - {1, channels}:
        raise StemdeskError(f"track {where}: cannot mix {part.shape[0]}-channel audio with {total.shape[0]} channels")
    length = max(total.shape[1], part.shape[1])
    if total.shape != (channels, length):
        grown = np.zeros((channels, length), dtype=np.float32)
        grown[:, : total.shape[1]] = total
        total = grown
    total[:, : part.shape[1]] += part
    return total
