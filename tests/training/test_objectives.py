"""Training objectives: the target's magnitude, or its part in phase with the mixture."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from stemdesk import dsp
from stemdesk.errors import StemdeskError
from stemdesk.models import ModelCard
from stemdesk.training.chunk_dataset import MagnitudeSpectrogram
from stemdesk.training.objectives import training_pair
from stemdesk.training.train import TrainingConfig, main

from .test_train import TINY_RUN, multitracks  # noqa: F401  (the module's multitrack fixture)

SPECTROGRAM = MagnitudeSpectrogram(n_fft=256, hop_length=64, bins=96)


def waves(seed: int, samples: int = 2048) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((2, 2, samples)).astype(np.float32))


def test_the_magnitude_objective_is_the_targets_magnitude():
    mixture, target = waves(0), waves(1)
    net_input, fitted = training_pair(SPECTROGRAM, mixture, target, "magnitude")
    engine = np.abs(dsp.stft(target[0].numpy(), 256, 64, dsp.hann_window(256)))[:, :96].transpose(0, 2, 1)
    np.testing.assert_allclose(fitted[0].numpy(), engine, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(net_input, SPECTROGRAM(mixture))


@pytest.mark.parametrize(("gain", "share"), [(0.3, 0.3), (-0.5, 0.0), (2.5, 1.0)])
def test_a_target_in_or_against_the_mixtures_phase_is_fitted_as_its_clipped_share(gain, share):
    mixture = waves(2)
    net_input, fitted = training_pair(SPECTROGRAM, mixture, gain * mixture, "phase-sensitive")
    torch.testing.assert_close(fitted, share * net_input, rtol=1e-4, atol=1e-5)


def test_the_phase_sensitive_target_is_the_magnitude_times_the_cosine_of_the_phase_difference():
    mixture, target = waves(3), waves(4)
    net_input, fitted = training_pair(SPECTROGRAM, mixture, target, "phase-sensitive")
    x, s = SPECTROGRAM.spectrum(mixture), SPECTROGRAM.spectrum(target)
    expected = (s.abs() * torch.cos(s.angle() - x.angle())).clamp_min(0)
    expected = torch.minimum(expected, x.abs())
    torch.testing.assert_close(fitted, expected, rtol=1e-3, atol=1e-4)
    # Unrelated noise: much of the target is out of phase, so far less is asked of the mask.
    assert fitted.sum() < 0.6 * SPECTROGRAM(target).sum()


def test_an_unknown_objective_is_a_clear_error():
    with pytest.raises(StemdeskError, match="phase-sensitive"):
        TrainingConfig(target="guitar", arch="unet", model={}, objective="complex")


def test_a_phase_sensitive_run_trains_and_its_card_says_what_it_fitted(multitracks, tmp_path):  # noqa: F811
    run_dir = tmp_path / "run"
    args = ["--data", str(multitracks), "--out", str(run_dir), "--steps", "2", "--export-dtype", "float32"]
    assert main([*args, *TINY_RUN, "--objective", "phase-sensitive"]) == 0
    assert json.loads((run_dir / "config.json").read_text())["objective"] == "phase-sensitive"
    card = ModelCard.load(run_dir / "guitar-unet.json")
    card.verify()
    assert "L1 on phase-sensitive magnitudes" in card.source
