"""Per-part audio augmentation with pedalboard: what a studio does to each instrument.

SoundFont instruments are dry and always sound the same; real stems have been through
amps, EQ, compressors, chorus and rooms. Each part gets a random chain suited to its
class (amp-style distortion and a cabinet on electric guitars, compression on bass
and drums, chorus on clean guitars and pads, EQ and reverb on everything), drawn from a
seeded numpy generator so that a track renders the same twice.

Two timbres: "classic" (the chains above, what the shipped models were trained on) and
"varied", where guitars instead go through a whole rig (``guitar_rig``: pick and string
noise, detuning, amp voicings, cabinets, modulation, doubling).
"""

from __future__ import annotations

import numpy as np
import pedalboard

from stemdesk.training.synth.guitar_rig import guitar_rig
from stemdesk.training.synth.song import Part

TIMBRES = ("classic", "varied")

_ELECTRIC_GUITARS = range(26, 32)
_DISTORTED_GUITARS = (29, 30)
_SOFT_PARTS = range(80, 104)  # synth leads, pads and effects: chorus suits them


def augment_part(
    audio: np.ndarray, rate: int, part: Part, rng: np.random.Generator, timbre: str = "classic"
) -> tuple[np.ndarray, list[str]]:
    """``audio`` (float32 ``(channels, samples)``) through a random effect chain for ``part``;
    ``timbre`` is one of :data:`TIMBRES`.

    Level-dependent effects (compressor thresholds, amp drive) expect the part at mix
    level, as :func:`~stemdesk.training.synth.mixdown.level_part` leaves it.

    Returns the processed audio, same shape and dtype, finite, and a short description
    of each effect used (for the track's metadata). The level is not normalised here.
    """
    if timbre not in TIMBRES:
        raise ValueError(f"unknown timbre {timbre!r}; known: {', '.join(TIMBRES)}")
    effects: list[pedalboard.Plugin] = []
    rig: list[str] = []
    if part.stem_class == "guitar" and timbre == "varied":
        audio, rig = guitar_rig(audio, rate, part.program, part.notes, rng)
    elif part.stem_class == "guitar":
        effects += _guitar_chain(part.program, rng)
    elif part.stem_class == "bass":
        effects += _bass_chain(rng)
    elif part.stem_class in ("drums", "piano") and rng.random() < (0.5 if part.stem_class == "drums" else 0.3):
        effects.append(_compressor(rng))
    elif part.program in _SOFT_PARTS and rng.random() < 0.3:
        effects.append(_chorus(rng))
    effects += _equaliser(rng)
    if rng.random() < 0.6:
        effects.append(pedalboard.Reverb(
            room_size=rng.uniform(0.1, 0.7), damping=rng.uniform(0.2, 0.8), wet_level=rng.uniform(0.05, 0.3),
            dry_level=rng.uniform(0.7, 1.0), width=rng.uniform(0.5, 1.0),
        ))
    if not effects:
        return audio, rig
    processed = pedalboard.Pedalboard(effects)(audio, rate)
    processed = np.nan_to_num(processed.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    return processed, rig + [_describe(effect) for effect in effects]


def _guitar_chain(program: int, rng: np.random.Generator) -> list[pedalboard.Plugin]:
    chain: list[pedalboard.Plugin] = []
    electric = program in _ELECTRIC_GUITARS
    # An amp: tighten the lows, drive, then a cabinet's mid bump and high cut.
    if electric and rng.random() < (0.5 if program in _DISTORTED_GUITARS else 0.3):
        chain += [
            pedalboard.HighpassFilter(cutoff_frequency_hz=rng.uniform(70, 150)),
            pedalboard.Distortion(drive_db=rng.uniform(10, 34)),
            pedalboard.PeakFilter(cutoff_frequency_hz=rng.uniform(600, 1600), gain_db=rng.uniform(2, 6), q=1.0),
            pedalboard.LowpassFilter(cutoff_frequency_hz=rng.uniform(3000, 6500)),
        ]
    elif program not in _DISTORTED_GUITARS and rng.random() < 0.25:
        chain.append(_chorus(rng))
    if rng.random() < 0.5:
        chain.append(_compressor(rng))
    return chain


def _bass_chain(rng: np.random.Generator) -> list[pedalboard.Plugin]:
    chain: list[pedalboard.Plugin] = []
    if rng.random() < 0.15:
        chain += [pedalboard.Distortion(drive_db=rng.uniform(4, 14)),
                  pedalboard.LowpassFilter(cutoff_frequency_hz=rng.uniform(1800, 4000))]
    if rng.random() < 0.7:
        chain.append(_compressor(rng))
    return chain


def _compressor(rng: np.random.Generator) -> pedalboard.Compressor:
    return pedalboard.Compressor(
        threshold_db=rng.uniform(-30, -12), ratio=rng.uniform(2, 6),
        attack_ms=rng.uniform(2, 30), release_ms=rng.uniform(50, 250),
    )


def _chorus(rng: np.random.Generator) -> pedalboard.Chorus:
    return pedalboard.Chorus(rate_hz=rng.uniform(0.3, 2.0), depth=rng.uniform(0.1, 0.4), mix=rng.uniform(0.2, 0.5))


def _equaliser(rng: np.random.Generator) -> list[pedalboard.Plugin]:
    """Up to three peaking bands of +-6 dB anywhere from 100 Hz to 8 kHz, sometimes a shelf."""
    bands: list[pedalboard.Plugin] = []
    if rng.random() < 0.7:
        for _ in range(rng.integers(1, 4)):
            bands.append(pedalboard.PeakFilter(
                cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(100), np.log(8000)))),
                gain_db=rng.uniform(-6, 6), q=rng.uniform(0.7, 2.0),
            ))
    if rng.random() < 0.3:
        shelf = pedalboard.HighShelfFilter if rng.random() < 0.5 else pedalboard.LowShelfFilter
        frequency = rng.uniform(4000, 9000) if shelf is pedalboard.HighShelfFilter else rng.uniform(80, 250)
        bands.append(shelf(cutoff_frequency_hz=frequency, gain_db=rng.uniform(-6, 6)))
    return bands


def _describe(effect: pedalboard.Plugin) -> str:
    """E.g. "Distortion(drive_db=21.3)": the effect and its parameters, rounded."""
    names = {
        pedalboard.Distortion: ("drive_db",), pedalboard.Compressor: ("threshold_db", "ratio"),
        pedalboard.Chorus: ("rate_hz", "depth", "mix"), pedalboard.Reverb: ("room_size", "wet_level"),
        pedalboard.PeakFilter: ("cutoff_frequency_hz", "gain_db"), pedalboard.HighpassFilter: ("cutoff_frequency_hz",),
        pedalboard.LowpassFilter: ("cutoff_frequency_hz",), pedalboard.HighShelfFilter: ("cutoff_frequency_hz", "gain_db"),
        pedalboard.LowShelfFilter: ("cutoff_frequency_hz", "gain_db"),
    }[type(effect)]
    values = ", ".join(f"{name}={getattr(effect, name):.3g}" for name in names)
    return f"{type(effect).__name__}({values})"
