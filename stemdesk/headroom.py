"""One gain for all files of a song, so that integer samples never clip.

Separated stems may exceed full scale even when the song does not (two stems
can cancel in the mix), and a hot master may exceed it itself. Float WAV, the
default, keeps such samples as they are. 16- and 24-bit PCM cannot: there every
file of one song is scaled by the same gain, chosen so that the loudest sample
of any of them reaches full scale. The files then still sum to the song (times
that gain) instead of to a clipped version of it, and the gain is reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .audio import Audio

#: libsndfile subtypes that hold any float as it is.
FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
_BITS = {"PCM_16": "16-bit", "PCM_24": "24-bit"}


@dataclass(frozen=True)
class WrittenFiles:
    """Files written for one song: ``paths`` in libsndfile ``subtype``, every one
    scaled by ``gain`` (1.0: untouched)."""

    paths: list[Path]
    gain: float
    subtype: str

    def gain_note(self) -> str | None:
        """Half a line about the gain for the musician, or None when there was none."""
        if self.gain == 1.0:
            return None
        return (
            f"lowered by {-20 * math.log10(self.gain):.1f} dB so that no sample clips in "
            f"{_BITS.get(self.subtype, self.subtype)} (float WAV keeps the level)"
        )


def peak(audio: Audio) -> float:
    """The largest absolute sample value of ``audio``."""
    if audio.num_samples == 0:
        return 0.0
    # max and -min: no temporary array of absolute values the size of the song.
    return float(max(audio.samples.max(), -audio.samples.min()))


def clip_free_gain(audios: Iterable[Audio], subtype: str) -> float:
    """1.0 for float files or when no sample exceeds full scale, else 1 / the loudest peak."""
    if subtype in FLOAT_SUBTYPES:
        return 1.0
    loudest = max((peak(audio) for audio in audios), default=0.0)
    return 1.0 if loudest <= 1.0 else 1.0 / loudest
