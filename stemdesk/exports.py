"""Exports from an open song: chosen stems, "everything but X", and the current mix.

Every file goes through :func:`stemdesk.audio.write_audio`: written under a
temporary name and renamed into place, so a failure (full disk, unwritable
folder: a StemdeskError) never leaves a half-written file under the final
name. PCM files are clipped to [-1, 1]; FLOAT WAV keeps the samples exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .audio import Audio, write_audio
from .chunking import Progress
from .errors import StemdeskError
from .playback.mixer import Mixer, MixerState
from .separate import rest_of
from .stem_files import FORMATS, choose_stems


def export_stems(
    stems: Mapping[str, Audio],
    names: list[str] | None,
    folder: str | os.PathLike,
    file_format: str = "wav",
    subtype: str = "PCM_16",
    progress: Progress | None = None,
    prefix: str = "",
) -> list[Path]:
    """Write each chosen stem to ``folder/<prefix><stem>.<file_format>``.

    Args:
        stems: ``{stem: Audio}`` of one song.
        names: the stems to write (written in ``stems``' order); all when None or empty.
        folder: an existing folder; :func:`stemdesk.stem_files.song_folder`
            makes the per-song folder the CLI uses.
        file_format: "wav" or "flac".
        subtype: "PCM_16", "PCM_24" or (WAV only) "FLOAT".
        progress: ``progress(files done, files total)``, first with 0 done.
        prefix: put before each file name, e.g. the song's name (``"song - "``).

    Returns:
        The written paths. Each file is atomic on its own; after an error the
        files finished before it stay.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    chosen = choose_stems(tuple(stems), names)
    folder = Path(folder)
    written: list[Path] = []
    if progress:
        progress(0, len(chosen))
    for name in chosen:
        written.append(write_audio(folder / f"{prefix}{name}.{file_format}", stems[name], subtype))
        if progress:
            progress(len(written), len(chosen))
    return written


def export_rest(
    stems: Mapping[str, Audio],
    mixture: Audio,
    name: str,
    path: str | os.PathLike,
    subtype: str = "PCM_16",
) -> Path:
    """Write everything but stem ``name`` (the mixture minus that stem) to ``path``.

    The practice track: the song without the part the musician plays.
    The format follows ``path``'s suffix (.wav or .flac).
    """
    if name not in stems:
        raise StemdeskError(f"Unknown stem {name}; this song has {', '.join(stems)}.")
    return write_audio(path, rest_of(stems, name, mixture), subtype)


def export_mix(
    stems: Mapping[str, Audio],
    state: MixerState,
    path: str | os.PathLike,
    subtype: str = "PCM_16",
) -> Path:
    """Write the mix the mixer ``state`` describes to ``path``.

    The file holds ``sum(amplitude_i * stem_i)`` over the stems, where each
    amplitude is the stem's fader times the master, or 0 for a stem muted or
    left out by a solo; the loop and fader ramps of live playback play no
    part. ``stems`` may include the mixture itself when the mixer has a strip
    for it; ``state`` must have a control for every one of them.
    """
    rates = {audio.rate for audio in stems.values()}
    if len(rates) != 1:
        raise ValueError(f"stems must share one rate, got {sorted(rates)}")
    rate = rates.pop()
    mix = Mixer({name: audio.samples for name, audio in stems.items()}, rate).mix(state)
    return write_audio(path, Audio(mix, rate), subtype)
