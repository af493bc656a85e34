"""Beat and downbeat labels of a rendered song: the grid its parts were written on.

A procedural song is written on a steady grid of :data:`~stemdesk.training.synth.form.BEATS_PER_BAR`
beats a bar at ``song.tempo``, its first bar starting at 0 s, and humanising only
moves notes around that grid, so the grid is the truth a beat tracker should find.
The labels file has the layout ``stemdesk beats --json`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stemdesk.audio import atomic_path
from stemdesk.training.synth.form import BEATS_PER_BAR
from stemdesk.training.synth.song import Song

LABELS = "beats.json"


def beat_labels(song: Song, seconds: float) -> dict | None:
    """``{"bpm", "meter", "beats", "downbeats"}`` (seconds) of a procedural song ``seconds``
    long, or None for a score excerpt (its bar lines are not kept)."""
    if song.source != "procedural":
        return None
    beats = np.arange(0.0, seconds, 60.0 / song.tempo)
    return {
        "bpm": song.tempo,
        "meter": BEATS_PER_BAR,
        "beats": [round(float(t), 5) for t in beats],
        "downbeats": [round(float(t), 5) for t in beats[::BEATS_PER_BAR]],
    }


def write_labels(folder: Path, song: Song, seconds: float) -> None:
    """Write :data:`LABELS` into a track's folder (atomically) when the song has labels."""
    labels = beat_labels(song, seconds)
    if labels is not None:
        with atomic_path(Path(folder) / LABELS) as temp:
            temp.write_text(json.dumps(labels))
