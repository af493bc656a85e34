"""Exports from an open song: chosen stems, "everything but X", and the current mix.

Every file goes through :func:`stemdesk.audio.write_audio`: written under a
temporary name and renamed into place, so a failure (full disk, unwritable
folder: a StemdeskError) never leaves a half-written file under the final
name. Float WAV keeps the samples exactly. For 16/24-bit PCM the caller
passes the song's one gain (:func:`stemdesk.stem_files.song_gain`) so that no
stem or rest clips and the files still sum to the song; a mix gets the gain
that keeps itself from clipping. Each function returns the paths and the gain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .audio import Audio, write_audio
from .chunking import Progress
from .errors import StemdeskError
from .headroom import WrittenFiles, clip_free_gain
from .playback.mixer import Mixer, MixerState
from .separate import rest_of
from .stem_files import DEFAULT_SUBTYPES, FORMATS, choose_stems


def export_stems(
    stems: Mapping[str, Audio],
    names: list[str] | None,
    folder: str | os.PathLike,
    file_format: str = "wav",
    subtype: str | None = None,
    progress: Progress | None = None,
    gain: float = 1.0,
    prefix: str = "",
) -> WrittenFiles:
    """Write each chosen stem times ``gain`` to ``folder/<prefix><stem>.<file_format>``.

    Args:
        stems: ``{stem: Audio}`` of one song.
        names: the stems to write (written in ``stems``' order); all when None or empty.
        folder: an existing folder; :func:`stemdesk.stem_files.song_folder`
            makes the per-song folder the CLI uses.
        file_format: "wav" or "flac".
        subtype: "PCM_16", "PCM_24" or (WAV only) "FLOAT"; by default float
            for WAV and 24-bit for FLAC.
        progress: ``progress(files done, files total)``, first with 0 done.
        gain: the song's gain (1.0: none; PCM samples beyond full scale clip).
        prefix: put before each file name, e.g. the song's name (``"song - "``).

    Returns:
        The written paths. Each file is atomic on its own; after an error the
        files finished before it stay.
    """
    if file_format not in FORMATS:
        raise StemdeskError(f"Unknown format {file_format!r}; use {' or '.join(FORMATS)}.")
    chosen = choose_stems(tuple(stems), names)
    subtype = subtype or DEFAULT_SUBTYPES[file_format]
    folder = Path(folder)
    written: list[Path] = []
    if progress:
        progress(0, len(chosen))
    for name in chosen:
        written.append(write_audio(folder / f"{prefix}{name}.{file_format}", stems[name], subtype, gain))
        if progress:
            progress(len(written), len(chosen))
    return WrittenFiles(written, gain, subtype)


def export_rest(
    stems: Mapping[str, Audio],
    mixture: Audio,
    name: str,
    path: str | os.PathLike,
    subtype: str | None = None,
    gain: float = 1.0,
) -> WrittenFiles:
    """Write everything but stem ``name`` (the mixture minus that stem) times ``gain`` to ``path``.

    The practice track: the song without the part the musician plays.
    The format follows ``path``'s suffix (.wav or .flac), and so does the
    default ``subtype`` (float for WAV, 24-bit for FLAC).
    """
    if name not in stems:
        raise StemdeskError(f"Unknown stem {name}; this song has {', '.join(stems)}.")
    subtype = subtype or _default_subtype(path)
    return WrittenFiles([write_audio(path, rest_of(stems, name, mixture), subtype, gain)], gain, subtype)


def export_mix(
    stems: Mapping[str, Audio],
    state: MixerState,
    path: str | os.PathLike,
    subtype: str | None = None,
) -> WrittenFiles:
    """Write the mix the mixer ``state`` describes to ``path``.

    The file holds ``sum(amplitude_i * stem_i)`` over the stems, where each
    amplitude is the stem's fader times the master, or 0 for a stem muted or
    left out by a solo; the loop and fader ramps of live playback play no
    part. ``stems`` may include the mixture itself when the mixer has a strip
    for it; ``state`` must have a control for every one of them. For PCM a
    mix beyond full scale is lowered as a whole until its peak is full scale.
    ``subtype`` defaults as for :func:`export_rest`.
    """
    subtype = subtype or _default_subtype(path)
    rates = {audio.rate for audio in stems.values()}
    if len(rates) != 1:
        raise ValueError(f"stems must share one rate, got {sorted(rates)}")
    rate = rates.pop()
    mix = Audio(Mixer({name: audio.samples for name, audio in stems.items()}, rate).mix(state), rate)
    gain = clip_free_gain([mix], subtype)
    return WrittenFiles([write_audio(path, mix, subtype, gain)], gain, subtype)


def _default_subtype(path: str | os.PathLike) -> str:
    # An unknown suffix gets float here and a clear error from write_audio.
    return DEFAULT_SUBTYPES.get(Path(path).suffix.lower().lstrip("."), "FLOAT")
