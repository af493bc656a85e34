"""A guitarist's rig for rendered guitar parts: pick and string noise, tuning, amp, cabinet,
modulation, doubling and delay.

A SoundFont has one or two guitar samples per program, so a model trained on them learns
those few timbres (MODELS.md: past a point, more steps fit the training SoundFonts and
score lower on a new one). Real guitars reach the mix through a player's hands, an amp
and a speaker cabinet, often doubled; each of those stages is drawn here from a seeded
generator, so every track gets its own rig and renders the same twice. No impulse
responses: a cabinet is its filter shape (a low resonance, a mid scoop, a presence bump
and a steep roll-off above 3-6 kHz, as a 12-inch speaker has).

:func:`guitar_rig` builds the whole chain; the stages are public so tests can check each.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from stemdesk.training.synth.song import Note

#: Programs of electric guitars (GM 26-31: jazz, clean, muted, overdriven, distortion, harmonics).
ELECTRIC = range(26, 32)
#: Amp voicings: name -> (chance for a clean-voiced electric, chance for an overdriven one).
AMP_VOICINGS = {"clean": (0.5, 0.0), "crunch": (0.35, 0.3), "high gain": (0.1, 0.5), "fuzz": (0.05, 0.2)}


def pick_noise(notes: list[Note], shape: tuple[int, int], rate: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """The sound of the pick and the fretting hand: float32 ``shape`` ``(channels, samples)``.

    Every onset (notes within 30 ms of each other are one strum) gets a click of
    high-passed noise decaying in 1-5 ms; about one onset in eight also a string squeak,
    60-200 ms of noise band-passed around 1-3 kHz, as a finger sliding on a wound string.
    ``level`` is the RMS the noise is referred to (the part's own): clicks start between
    12 dB below and 6 dB above it and die within milliseconds, squeaks peak 8-20 dB below
    it. Silent away from onsets.
    """
    noise = np.zeros(shape, np.float32)
    onsets = sorted({round(note.time * rate) for note in notes})
    strums = [onset for index, onset in enumerate(onsets) if index == 0 or onset - onsets[index - 1] > 0.03 * rate]
    click_filter = pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(2000, 5000)))])
    squeak_filter = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(800, 1500))),
        pedalboard.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(2000, 3500))),
    ])
    click_gain = level * 10 ** (rng.uniform(-12, 6) / 20)
    for onset in strums:
        if onset >= shape[1]:
            continue
        length = min(round(rng.uniform(0.001, 0.005) * rate) * 6, shape[1] - onset)
        envelope = np.exp(-np.arange(length) / (length / 6)).astype(np.float32)
        click = rng.standard_normal((shape[0], length)).astype(np.float32) * envelope * np.float32(click_gain)
        noise[:, onset : onset + length] += click_filter(click, rate)
        if rng.random() < 0.125:
            length = min(round(rng.uniform(0.06, 0.2) * rate), shape[1] - onset)
            envelope = np.hanning(length).astype(np.float32) * np.float32(level * 10 ** (rng.uniform(-20, -8) / 20))
            squeak = rng.standard_normal((shape[0], length)).astype(np.float32) * envelope
            start = max(onset - length, 0)
            noise[:, start : start + length] += squeak_filter(squeak, rate)[:, : noise.shape[1] - start]
    return noise


def amp(voicing: str, rng: np.random.Generator) -> list[pedalboard.Plugin]:
    """An amp of ``voicing`` (one of :data:`AMP_VOICINGS`): input filter, drive, tone stack."""
    chain: list[pedalboard.Plugin] = [pedalboard.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(70, 150)))]
    if voicing == "clean":
        chain += [pedalboard.Distortion(drive_db=float(rng.uniform(4, 12))), pedalboard.Gain(gain_db=-3.0)]
    elif voicing == "crunch":
        chain += [pedalboard.Distortion(drive_db=float(rng.uniform(20, 30)))]
    elif voicing == "high gain":
        # A mid boost before the drive (an overdrive pedal in front), a gate after it.
        chain += [
            pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(650, 1000)), gain_db=float(rng.uniform(4, 9)), q=0.8),
            pedalboard.Distortion(drive_db=float(rng.uniform(30, 44))),
            pedalboard.NoiseGate(threshold_db=float(rng.uniform(-60, -45)), ratio=4.0),
        ]
    elif voicing == "fuzz":
        chain += [pedalboard.Gain(gain_db=float(rng.uniform(18, 30))), pedalboard.Clipping(threshold_db=-6.0)]
    else:
        raise ValueError(f"unknown amp voicing {voicing!r}; known: {', '.join(AMP_VOICINGS)}")
    # The tone stack: bass, mids (often scooped), treble.
    chain += [
        pedalboard.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(150, 300)), gain_db=float(rng.uniform(-4, 4))),
        pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(400, 900)), gain_db=float(rng.uniform(-8, 3)), q=0.7),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(2000, 4000)), gain_db=float(rng.uniform(-4, 4))),
    ]
    return chain


def cabinet(rng: np.random.Generator) -> list[pedalboard.Plugin]:
    """A speaker cabinet as filters: low cut, low resonance, presence, two-stage high roll-off."""
    roll_off = float(rng.uniform(3000, 6500))
    return [
        pedalboard.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(60, 110))),
        pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(90, 160)), gain_db=float(rng.uniform(2, 6)), q=1.4),
        pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(1800, 3500)), gain_db=float(rng.uniform(1, 5)), q=1.2),
        pedalboard.LowpassFilter(cutoff_frequency_hz=roll_off),
        pedalboard.LowpassFilter(cutoff_frequency_hz=roll_off * float(rng.uniform(1.0, 1.4))),
    ]


def acoustic_body(rng: np.random.Generator) -> list[pedalboard.Plugin]:
    """What a microphone in front of an acoustic guitar hears: a body boom and some air."""
    return [
        pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(90, 220)), gain_db=float(rng.uniform(-3, 5)), q=1.0),
        pedalboard.PeakFilter(cutoff_frequency_hz=float(rng.uniform(2500, 6000)), gain_db=float(rng.uniform(-3, 4)), q=0.8),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(7000, 10000)), gain_db=float(rng.uniform(-4, 3))),
    ]


def modulation(rng: np.random.Generator) -> list[pedalboard.Plugin]:
    """Nothing, a chorus, a phaser or a slap/echo delay."""
    choice = rng.integers(5)
    if choice == 1:
        return [pedalboard.Chorus(rate_hz=float(rng.uniform(0.3, 2.0)), depth=float(rng.uniform(0.15, 0.5)),
                                  mix=float(rng.uniform(0.25, 0.6)))]
    if choice == 2:
        return [pedalboard.Phaser(rate_hz=float(rng.uniform(0.2, 1.5)), depth=float(rng.uniform(0.3, 0.8)),
                                  mix=float(rng.uniform(0.3, 0.6)))]
    if choice == 3:
        return [pedalboard.Delay(delay_seconds=float(rng.uniform(0.08, 0.45)), feedback=float(rng.uniform(0.1, 0.45)),
                                 mix=float(rng.uniform(0.1, 0.3)))]
    return []


def detune(audio: np.ndarray, rate: int, cents: float) -> np.ndarray:
    """``audio`` ``(channels, samples)`` shifted by ``cents`` (a guitar not tuned to A440)."""
    return pedalboard.PitchShift(semitones=cents / 100)(audio, rate)


def double(audio: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A double-tracked part: the take plus a second one, 5-15 cents off, 12-35 ms late and
    panned to the other side (channels swapped), as producers stack rhythm guitars.

    Returns float32 ``(channels, samples)`` like ``audio`` and a description.
    """
    cents = float(rng.uniform(5, 15) * rng.choice((-1, 1)))
    delay = round(rng.uniform(0.012, 0.035) * rate)
    second = detune(audio, rate, cents)[::-1]
    late = np.zeros_like(audio)
    late[:, delay:] = second[:, : audio.shape[1] - delay]
    blend = float(rng.uniform(0.5, 0.9))
    doubled = (audio + np.float32(blend) * late) / np.float32(1 + blend)
    return doubled.astype(np.float32), f"Double(cents={cents:.3g}, delay_ms={1000 * delay / rate:.3g}, blend={blend:.2g})"


def guitar_rig(
    audio: np.ndarray, rate: int, program: int, notes: list[Note], rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """``audio`` (float32 ``(channels, samples)``, a guitar part at mix level) through a
    random rig: noise of the hands, sometimes a detuned instrument, an amp and cabinet
    (electric) or a body and microphone (acoustic), modulation, sometimes doubling.

    Returns the processed audio (same shape, float32, finite; level not normalised) and a
    description of each stage for the track's metadata.
    """
    described: list[str] = []
    level = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rng.random() < 0.7 and level > 0:
        audio = audio + pick_noise(notes, audio.shape, rate, level, rng)
        described.append("PickNoise")
    if rng.random() < 0.3:
        cents = float(rng.uniform(-30, 30))
        audio = detune(audio, rate, cents)
        described.append(f"Detune(cents={cents:.3g})")
    if program in ELECTRIC:
        overdriven = program in (29, 30)
        names = list(AMP_VOICINGS)
        chances = np.array([AMP_VOICINGS[name][int(overdriven)] for name in names])
        voicing = names[rng.choice(len(names), p=chances / chances.sum())]
        speaker = cabinet(rng)
        chain = amp(voicing, rng) + speaker
        described += [f"Amp({voicing})", f"Cabinet(roll_off_hz={speaker[3].cutoff_frequency_hz:.0f})"]
    else:
        chain = acoustic_body(rng)
        described.append("AcousticBody")
    effect = modulation(rng)
    chain += effect
    described += [type(plugin).__name__ for plugin in effect]
    audio = pedalboard.Pedalboard(chain)(audio, rate)
    if rng.random() < 0.35:
        audio, description = double(audio, rate, rng)
        described.append(description)
    return np.nan_to_num(audio.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0), described
