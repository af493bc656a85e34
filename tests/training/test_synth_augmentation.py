"""Augmentation on real rendered parts; sub-mixes containing the target; silence adjustment;
stems on the 16-bit grid summing exactly to the mixture."""

import numpy as np
import pytest

from stemdesk.errors import StemdeskError
from stemdesk.training.synth.effects import augment_part
from stemdesk.training.synth.libfluidsynth import is_available
from stemdesk.training.synth.mixdown import fit_to_pcm16, level_part, mixture_of
from stemdesk.training.synth.render import fresh_synthesizer, render_part
from stemdesk.training.synth.silence import (
    active_fraction,
    active_frames,
    trim_target_silence,
)
from stemdesk.training.synth.song import Note, Part
from stemdesk.training.synth.soundfonts import find_soundfont
from stemdesk.training.synth.submixes import background_subsets, target_submixes

RATE = 44100


@pytest.fixture(scope="module")
def rendered():
    """Two seconds of a clean electric guitar, a bass and drums from FluidSynth with TimGM6mb;
    the bass rests for the first second."""
    if not is_available():
        pytest.skip("libfluidsynth is not installed (Debian package libfluidsynth3)")
    try:
        soundfont = find_soundfont("TimGM6mb")
    except StemdeskError:
        pytest.skip("the TimGM6mb SoundFont is not installed (Debian package timgm6mb-soundfont)")
    parts = {
        "guitar": Part("guitar", 27, [Note(t / 4, 0.45, 52 + (t % 4) * 5, 100) for t in range(8)]),
        "bass": Part("bass", 33, [Note(1.0 + t / 2, 0.4, 40, 100) for t in range(2)]),
        "drums": Part("drums", 0, [Note(t / 2, 0.1, 36 if t % 2 == 0 else 38, 110) for t in range(4)], is_drum=True),
    }
    with fresh_synthesizer(str(soundfont), RATE) as synth:
        return {name: (part, render_part(synth, part, 2 * RATE)[0]) for name, part in parts.items()}


@pytest.fixture(scope="module")
def dyad(rendered):
    """A clean electric guitar holding E4 and B4 for two seconds, at mix level."""
    soundfont = find_soundfont("TimGM6mb")
    part = Part("guitar", 27, [Note(0.0, 1.8, 64, 100), Note(0.0, 1.8, 71, 100)])
    with fresh_synthesizer(str(soundfont), RATE) as synth:
        audio, _ = render_part(synth, part, 2 * RATE)
    return part, level_part(audio, RATE, "guitar", 0.0)


def test_augmentation_changes_the_sound_but_keeps_length_and_stays_finite(rendered):
    part, dry = rendered["guitar"]
    dry = level_part(dry, RATE, "guitar", 0.0)
    changed = 0
    for seed in range(6):
        wet, effects = augment_part(dry, RATE, part, np.random.default_rng(seed))
        assert wet.shape == dry.shape and wet.dtype == np.float32
        assert np.isfinite(wet).all()
        if effects:
            changed += 1
            assert np.abs(wet - dry).max() > 1e-3, effects
    assert changed >= 4


def test_an_amp_on_a_clean_guitar_adds_intermodulation_below_the_notes(dyad):
    """Two notes at 330 and 494 Hz: a saturating amp creates 2 * 330 - 494 = 165 Hz,
    where the clean guitar has almost nothing."""
    part, dry = dyad
    for seed in range(60):
        wet, effects = augment_part(dry, RATE, part, np.random.default_rng(seed))
        drives = [float(e.split("=")[1].rstrip(")")) for e in effects if e.startswith("Distortion")]
        if drives and drives[0] >= 20:
            break
    else:
        pytest.fail("no seed in 60 put the clean guitar through a heavily driven amp")

    def low_band_share(audio):
        power = np.abs(np.fft.rfft(audio[0])) ** 2
        frequencies = np.fft.rfftfreq(audio.shape[1], 1 / RATE)
        return power[(frequencies > 100) & (frequencies < 250)].sum() / power.sum()

    assert low_band_share(wet) > 3 * low_band_share(dry), effects


def test_levelling_sets_loudness_by_class_and_offset(rendered):
    _, dry = rendered["drums"]
    quiet = level_part(dry, RATE, "drums", -6.0)
    loud = level_part(dry, RATE, "drums", 0.0)
    ratio_db = 20 * np.log10(np.abs(loud).max() / np.abs(quiet).max())
    assert ratio_db == pytest.approx(6.0, abs=0.01)


def test_stems_fit_the_16_bit_grid_and_sum_exactly(rendered):
    stems = fit_to_pcm16({name: audio * 3 for name, (_, audio) in rendered.items()}, peak=0.9)
    for audio in stems.values():
        assert np.array_equal(audio * 32768, np.round(audio * 32768))
    mixture = mixture_of(stems)
    assert np.abs(mixture).max() <= 0.9
    assert np.abs(mixture).max() > 0.85
    # Any order of summation gives the same float32 mixture: every value is exact.
    assert np.array_equal(mixture, stems["drums"] + (stems["bass"] + stems["guitar"]))


def test_every_submix_contains_the_target_and_the_listed_stems(rendered):
    stems = {name: audio for name, (_, audio) in rendered.items()}
    submixes = list(target_submixes(stems, "bass"))
    assert len(submixes) == 4
    assert {names for names, _ in submixes} == {
        ("bass",), ("bass", "drums"), ("bass", "guitar"), ("bass", "drums", "guitar"),
    }
    for names, mixture in submixes:
        assert np.allclose(mixture, np.sum([stems[name] for name in names], axis=0), atol=1e-6)
    full = dict(submixes)[("bass", "drums", "guitar")]
    assert np.allclose(full, mixture_of(stems), atol=1e-6)


def test_the_powerset_is_capped_but_keeps_the_full_mix_and_the_target_alone():
    others = ["drums", "guitar", "piano", "other", "vocals"]
    assert len(background_subsets(others)) == 32
    capped = background_subsets(others, limit=6, rng=np.random.default_rng(0))
    assert len(capped) == 6 and len(set(capped)) == 6
    assert () in capped and tuple(sorted(others)) in capped


def test_silence_adjustment_raises_the_targets_active_fraction(rendered):
    stems = {name: audio for name, (_, audio) in rendered.items()}
    before = active_fraction(stems["bass"], RATE)
    assert before < 0.7, "the bass rests for the first second"
    trimmed = trim_target_silence(stems, "bass", RATE, min_active=0.9, rng=np.random.default_rng(1))
    after = active_fraction(trimmed["bass"], RATE)
    assert after >= 0.88 > before
    lengths = {audio.shape[1] for audio in trimmed.values()}
    assert len(lengths) == 1 and lengths.pop() < stems["bass"].shape[1]
    # The bass itself is kept whole: the cut regions held none of it.
    kept_energy = np.square(trimmed["bass"]).sum() / np.square(stems["bass"]).sum()
    assert kept_energy > 0.97
    # Cut at the same places with the same fades: the trimmed stems still sum to the
    # trimmed mixture.
    mixture = mixture_of(stems)
    trimmed_mixture = trim_target_silence({**stems, "mix": mixture}, "bass", RATE, 0.9, np.random.default_rng(1))["mix"]
    assert np.allclose(mixture_of(trimmed), trimmed_mixture, atol=1e-6)


def test_silence_adjustment_leaves_an_active_target_alone(rendered):
    stems = {name: audio for name, (_, audio) in rendered.items()}
    assert active_frames(stems["guitar"], RATE).mean() > 0.9
    trimmed = trim_target_silence(stems, "guitar", RATE, min_active=0.9)
    assert all(trimmed[name] is stems[name] for name in stems)
