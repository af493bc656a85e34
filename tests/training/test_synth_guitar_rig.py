"""The guitar rig: each stage changes the sound the way its name says, and every stage is a
pure function of its seed."""

import numpy as np
import pytest

pedalboard = pytest.importorskip("pedalboard")

from stemdesk.training.synth.effects import augment_part  # noqa: E402
from stemdesk.training.synth.guitar_rig import (  # noqa: E402
    AMP_VOICINGS,
    acoustic_body,
    amp,
    cabinet,
    detune,
    double,
    guitar_rig,
    pick_noise,
)
from stemdesk.training.synth.song import Note, Part  # noqa: E402

RATE = 44100


def sine(frequency: float, seconds: float = 1.0, rms_db: float = -23.0) -> np.ndarray:
    """A stereo sine at about a guitar part's mix level."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sqrt(2) * 10 ** (rms_db / 20) * np.sin(2 * np.pi * frequency * t)
    return np.stack([tone, tone]).astype(np.float32)


def band_energy(audio: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / RATE)
    return float(spectrum[..., (freqs >= low) & (freqs < high)].sum())


def harmonic_share(audio: np.ndarray, fundamental: float) -> float:
    """Fraction of the energy outside 10 % of ``fundamental``: what the drive added."""
    total = band_energy(audio, 0, RATE / 2)
    return 1 - band_energy(audio, 0.9 * fundamental, 1.1 * fundamental) / total


def peak_frequency(audio: np.ndarray) -> float:
    # Zero-padded to a 0.1 Hz grid around the peak.
    spectrum = np.abs(np.fft.rfft(audio[0] * np.hanning(audio.shape[1]), n=10 * RATE))
    return float(np.argmax(spectrum) * RATE / (10 * RATE))


NOTES = [Note(0.1, 0.3, 52, 100), Note(0.105, 0.3, 57, 100), Note(0.5, 0.3, 59, 100)]


def test_pick_noise_clicks_at_each_strum_in_the_highs_and_is_silent_elsewhere():
    noise = pick_noise(NOTES, (2, RATE), RATE, 0.05, np.random.default_rng(3))
    assert noise.shape == (2, RATE) and noise.dtype == np.float32
    # Two strums (the first two notes are one, 5 ms apart): energy after each onset only,
    # apart from squeaks, which lead into a note and end at its onset.
    after = np.zeros(RATE, bool)
    for onset in (0.1, 0.5):
        after[int(onset * RATE) : int((onset + 0.04) * RATE)] = True
    assert np.abs(noise[:, int(0.1 * RATE) : int(0.11 * RATE)]).max() > 0.01
    assert np.abs(noise[:, int(0.5 * RATE) : int(0.51 * RATE)]).max() > 0.01
    assert not np.any(noise[:, int(0.15 * RATE) : int(0.29 * RATE)])
    clicks = noise[:, after]
    assert band_energy(clicks, 2000, RATE / 2) > 0.8 * band_energy(clicks, 0, RATE / 2)


def test_pick_noise_is_a_function_of_the_seed():
    first, again, other = (pick_noise(NOTES, (2, RATE), RATE, 0.05, np.random.default_rng(seed)) for seed in (4, 4, 5))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


#: Least share of a sine's energy each voicing turns into harmonics (a clean amp barely any).
LEAST_HARMONICS = {"clean": 1e-4, "crunch": 0.01, "high gain": 0.05, "fuzz": 0.05}


@pytest.mark.parametrize("voicing", sorted(AMP_VOICINGS))
def test_an_amp_adds_harmonics_and_more_gain_adds_more(voicing):
    dry = sine(220.0)
    amped = pedalboard.Pedalboard(amp(voicing, np.random.default_rng(1)))(dry, RATE)
    assert harmonic_share(dry, 220.0) < 1e-5
    assert harmonic_share(amped, 220.0) > LEAST_HARMONICS[voicing]
    if voicing in ("high gain", "fuzz"):
        clean = pedalboard.Pedalboard(amp("clean", np.random.default_rng(1)))(dry, RATE)
        assert harmonic_share(amped, 220.0) > 2 * harmonic_share(clean, 220.0)
    with pytest.raises(ValueError, match="unknown amp voicing"):
        amp("tweed", np.random.default_rng(1))


def test_a_cabinet_rolls_off_the_highs_and_keeps_the_mids():
    noise = np.random.default_rng(0).standard_normal((2, RATE)).astype(np.float32) * 0.05
    for seed in range(4):
        speaker = pedalboard.Pedalboard(cabinet(np.random.default_rng(seed)))(noise, RATE)
        mids = band_energy(speaker, 500, 1500) / band_energy(noise, 500, 1500)
        highs = band_energy(speaker, 10000, 20000) / band_energy(noise, 10000, 20000)
        assert 0.3 < mids < 3.0
        assert 10 * np.log10(highs) < -20, seed


def test_an_acoustic_body_changes_the_tone_but_not_the_band():
    noise = np.random.default_rng(0).standard_normal((2, RATE)).astype(np.float32) * 0.05
    body = pedalboard.Pedalboard(acoustic_body(np.random.default_rng(2)))(noise, RATE)
    ratio = band_energy(body, 5000, 20000) / band_energy(noise, 5000, 20000)
    assert 0.25 < ratio < 4.0 and not np.allclose(body, noise, atol=1e-3)


def test_detune_moves_the_pitch_by_the_cents_asked():
    shifted = detune(sine(440.0, 2.0), RATE, 20.0)
    # Within 4 cents (1 Hz): the shifter's own accuracy.
    assert abs(peak_frequency(shifted) - 440.0 * 2 ** (20 / 1200)) < 1.0
    assert abs(peak_frequency(detune(sine(440.0, 2.0), RATE, -30.0)) - 440.0 * 2 ** (-30 / 1200)) < 1.0


def test_doubling_adds_a_late_detuned_copy_on_the_other_side():
    rng = np.random.default_rng(7)
    left_only = np.zeros((2, RATE), np.float32)
    left_only[0] = np.random.default_rng(1).standard_normal(RATE).astype(np.float32) * 0.05
    doubled, description = double(left_only, RATE, rng)
    assert doubled.shape == left_only.shape and doubled.dtype == np.float32
    # The right channel, silent before, now holds the second take, 12-35 ms late.
    right = doubled[1]
    assert np.abs(right).max() > 0.005
    lags = np.arange(0, round(0.05 * RATE))
    correlation = [abs(np.dot(left_only[0, : RATE - lag], right[lag:])) for lag in lags]
    delay_ms = 1000 * lags[int(np.argmax(correlation))] / RATE
    assert 11 <= delay_ms <= 36
    described_ms = float(description.split("delay_ms=")[1].split(",")[0])
    # Within a millisecond: the pitch shifter moves the take by a few dozen samples.
    assert abs(described_ms - delay_ms) < 1.0
    again, _ = double(left_only, RATE, np.random.default_rng(7))
    assert np.array_equal(doubled, again)


def test_a_whole_rig_is_deterministic_per_seed_and_differs_between_seeds():
    dry = sine(196.0, 1.0) + sine(247.0, 1.0)
    electric = [guitar_rig(dry, RATE, 29, NOTES, np.random.default_rng(seed)) for seed in (11, 11, 12)]
    assert np.array_equal(electric[0][0], electric[1][0]) and electric[0][1] == electric[1][1]
    assert not np.array_equal(electric[0][0], electric[2][0])
    for audio, described in electric:
        assert audio.shape == dry.shape and audio.dtype == np.float32 and np.isfinite(audio).all()
        assert any(stage.startswith("Amp(") for stage in described) and any(s.startswith("Cabinet(") for s in described)
    acoustic, described = guitar_rig(dry, RATE, 25, NOTES, np.random.default_rng(11))
    assert "AcousticBody" in described and not any(stage.startswith("Amp(") for stage in described)


def test_the_varied_timbre_only_touches_guitars():
    rng_seed = 21
    guitar = Part("guitar", 27, NOTES)
    bass = Part("bass", 33, [Note(0.1, 0.5, 40, 100)])
    dry = sine(110.0)
    classic, _ = augment_part(dry, RATE, guitar, np.random.default_rng(rng_seed), "classic")
    varied, described = augment_part(dry, RATE, guitar, np.random.default_rng(rng_seed), "varied")
    assert not np.allclose(classic, varied, atol=1e-4)
    assert any(stage.startswith("Amp(") or stage == "AcousticBody" for stage in described)
    bass_classic, _ = augment_part(dry, RATE, bass, np.random.default_rng(rng_seed), "classic")
    bass_varied, _ = augment_part(dry, RATE, bass, np.random.default_rng(rng_seed), "varied")
    assert np.array_equal(bass_classic, bass_varied)
    with pytest.raises(ValueError, match="unknown timbre"):
        augment_part(dry, RATE, guitar, np.random.default_rng(0), "vintage")
