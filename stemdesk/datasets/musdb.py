"""MUSDB18-HQ (a folder of WAV files per song) and MUSDB18 (one ``.stem.mp4`` per song).

Both hold four stems named like stemdesk classes: vocals, drums, bass and
other. MUSDB18's "other" also holds the songs' guitars and pianos, so those
two classes are marked ``not_separated``: a guitar model can neither learn
from nor be scored on these songs, and a song without a guitar stem here does
not mean a song without guitar.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio
from stemdesk.errors import StemdeskError

from .track import Track

#: MUSDB18's stems, which are also the names of stemdesk classes.
STEMS = ("vocals", "drums", "bass", "other")
#: Classes MUSDB18 mixes into its "other" stem.
NOT_SEPARATED = ("guitar", "piano")
#: The audio streams of a MUSDB18 ``.stem.mp4``, in file order.
MP4_STREAMS = ("mixture", "drums", "bass", "other", "vocals")
MP4_SUFFIX = ".stem.mp4"


def is_musdb_hq_folder(folder: Path) -> bool:
    """A MUSDB18-HQ song: ``mixture.wav`` and the four stems' WAV files.

    Extra files (an ``accompaniment.wav`` some tools add) do not matter; a
    ``metadata.json`` or a guitar or piano stem marks stemdesk's own layout,
    where "other" holds neither.
    """
    wavs = {path.stem for path in folder.glob("*.wav")}
    return (
        {"mixture", *STEMS} <= wavs
        and not wavs & set(NOT_SEPARATED)
        and not (folder / "metadata.json").exists()
    )


def musdb_hq_track(folder: Path) -> Track:
    """The song in a MUSDB18-HQ folder ``<split>/<song>/{mixture,vocals,drums,bass,other}.wav``."""
    return Track(
        name=folder.name,
        stems={stem: [folder / f"{stem}.wav"] for stem in STEMS},
        mixture=folder / "mixture.wav",
        metadata=_metadata("musdb18hq", folder.parent.name),
    )


def musdb_stem_track(path: Path) -> Track:
    """The song in a MUSDB18 ``<split>/<song>.stem.mp4``; its streams decode one at a time."""
    streams = {name: partial(decode_stream, path, index) for index, name in enumerate(MP4_STREAMS)}
    return Track(
        name=path.name[: -len(MP4_SUFFIX)],
        stems={stem: [streams[stem]] for stem in STEMS},
        mixture=streams["mixture"],
        metadata=_metadata("musdb18", path.parent.name),
    )


def _metadata(layout: str, split: str) -> dict:
    return {"format": layout, "split": split, "not_separated": NOT_SEPARATED}


def decode_stream(path: Path, index: int) -> Audio:
    """Audio stream number ``index`` of a multi-stream file: float32 ``(channels, samples)``.

    Only that stream's packets are decoded. All streams of a MUSDB18 file
    went through the same AAC encoder, so they share its start delay and stay
    aligned sample for sample.
    """
    # Imported here: FFmpeg's libraries cost memory and most datasets are WAV or FLAC.
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise StemdeskError(f"cannot decode '{path}': {getattr(error, 'strerror', None) or error}") from error
    with container:
        if index >= len(container.streams.audio):
            raise StemdeskError(
                f"'{path}' has {len(container.streams.audio)} audio streams; "
                f"a MUSDB18 stem file has {len(MP4_STREAMS)}"
            )
        stream = container.streams.audio[index]
        # Planar float gives frames shaped (channels, samples) at the decoder's own rate.
        to_planar_float = av.AudioResampler(format="fltp")
        blocks: list[np.ndarray] = []
        rate = stream.rate
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for converted in to_planar_float.resample(frame):
                        rate = converted.rate
                        blocks.append(converted.to_ndarray())
            blocks.extend(converted.to_ndarray() for converted in to_planar_float.resample(None))
        except av.error.FFmpegError as error:
            raise StemdeskError(f"cannot decode stream {index} of '{path}': {error.strerror}") from error
    if not blocks:
        raise StemdeskError(f"stream {index} of '{path}' holds no audio")
    return Audio(np.concatenate(blocks, axis=1), rate)
