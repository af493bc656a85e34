"""From rendered parts to class stems and a mixture that is exactly their sum.

Levels: each part is brought to a reference loudness (RMS over its sounding frames),
then given its class's usual place in a mix plus a random offset, so balances vary
from song to song but a bass is rarely 30 dB under the drums. Parts of one class are
summed into that class's stem (guitars first into a lead and a rhythm stem, whose sum
the guitar stem is). Finally all stems are scaled together to a random peak
and rounded to the 16-bit grid: the stems are then exact as 16-bit WAVs, and their sum,
written as 24-bit, is exact too (at most six 16-bit values add up to a 19-bit one), so
``mixture == sum(stems)`` holds sample for sample after reading the files back.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stemdesk.instruments import CLASSES, SUBSTEMS
from stemdesk.training.synth.silence import active_frames

#: Where each class usually sits in a mix, in dB relative to the drums.
CLASS_LEVEL_DB = {"drums": 0.0, "bass": -2.0, "guitar": -3.0, "piano": -4.0, "vocals": -2.0, "other": -5.0}
_REFERENCE_DB = -20.0
_PCM16 = 32768.0


def active_rms(audio: np.ndarray, rate: int) -> float:
    """RMS of ``audio`` (``(channels, samples)``) over its non-silent 50 ms frames (0 if silent)."""
    frame = round(0.05 * rate)
    active = active_frames(audio, rate, 0.05)
    if not active.any():
        return 0.0
    mask = np.repeat(active, frame)[: audio.shape[1]]
    return float(np.sqrt(np.mean(np.square(audio[:, mask], dtype=np.float64))))


def level_part(audio: np.ndarray, rate: int, stem_class: str, offset_db: float) -> np.ndarray:
    """``audio`` scaled to the reference loudness + its class level + ``offset_db``."""
    rms = active_rms(audio, rate)
    if rms == 0.0:
        return audio
    target = 10 ** ((_REFERENCE_DB + CLASS_LEVEL_DB[stem_class] + offset_db) / 20)
    return (audio * np.float32(target / rms)).astype(np.float32)


def sum_by_stem(parts: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``(stem, audio)`` pairs summed per stem (a class or one of its :data:`SUBSTEMS`),
    in the order of :data:`CLASSES`."""
    stems: dict[str, np.ndarray] = {}
    for stem_class in CLASSES:
        for name in SUBSTEMS.get(stem_class, (stem_class,)):
            members = [audio for stem, audio in parts if stem == name]
            if members:
                stems[name] = np.sum(members, axis=0, dtype=np.float32)
    return stems


def class_stems(stems: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Stems by class, each class's :data:`SUBSTEMS` summed (exact on the 16-bit grid)."""
    classes: dict[str, np.ndarray] = {}
    for stem_class in CLASSES:
        members = [stems[name] for name in SUBSTEMS.get(stem_class, (stem_class,)) if name in stems]
        if members:
            classes[stem_class] = np.sum(members, axis=0, dtype=np.float32)
    return classes


def fit_to_pcm16(stems: Mapping[str, np.ndarray], peak: float) -> dict[str, np.ndarray]:
    """All stems scaled by one factor so that the mixture, every stem and every class
    sum of :data:`SUBSTEMS` peak at ``peak`` (0 < peak < 1) at most, then rounded to
    multiples of 1/32768.

    Returns new float32 arrays; their sum, and the sum of a class's substems, is exact in
    float32 and stays inside [-1, 1).
    """
    if not 0 < peak < 1:
        raise ValueError(f"peak must be between 0 and 1, got {peak}")
    bounded = [mixture_of(stems), *stems.values(), *class_stems(stems).values()]
    highest = max(float(np.abs(audio).max()) for audio in bounded)
    # Rounding moves each stem by at most half a step; leave room for all of them.
    scale = (peak - 3 * len(stems) / _PCM16) / highest if highest > 0 else 1.0
    return {
        name: (np.clip(np.round(audio * (scale * _PCM16)), -_PCM16, _PCM16 - 1) / _PCM16).astype(np.float32)
        for name, audio in stems.items()
    }


def mixture_of(stems: Mapping[str, np.ndarray]) -> np.ndarray:
    """The sum of ``stems`` (float32 ``(channels, samples)``, one length)."""
    return np.sum(list(stems.values()), axis=0, dtype=np.float32)
