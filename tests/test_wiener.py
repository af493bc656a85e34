import numpy as np

from stemdesk import dsp
from stemdesk.wiener import wiener_filter


def panned_sources(seed=0, length=44100):
    """Two noise sources panned hard left and mostly right, and their stereo STFTs."""
    rng = np.random.default_rng(seed)
    window = dsp.hann_window(1024)
    left = np.stack([rng.standard_normal(length), 0.05 * rng.standard_normal(length)]).astype(np.float32)
    right = np.stack([0.1 * rng.standard_normal(length), rng.standard_normal(length)]).astype(np.float32)
    specs = np.stack([dsp.stft(s, 1024, 256, window) for s in (left, right)])
    return specs, specs.sum(axis=0)


def test_zero_iterations_is_the_identity_and_sources_still_sum_to_the_mixture():
    specs, mixture = panned_sources()
    rough = np.stack([0.5 * mixture, 0.5 * mixture])
    np.testing.assert_array_equal(wiener_filter(rough, mixture, 0), rough)
    refined = wiener_filter(rough, mixture, 2)
    assert refined.shape == rough.shape and refined.dtype == np.complex64
    np.testing.assert_allclose(refined.sum(axis=0), mixture, atol=1e-3 * np.abs(mixture).max())


def test_spatial_model_improves_a_rough_ratio_mask_estimate():
    specs, mixture = panned_sources()
    power = np.abs(specs) ** 2
    # a deliberately poor per-channel estimate: the true power share, flattened
    # towards 1/2, like a network that is unsure
    share = 0.5 + 0.3 * (power / power.sum(axis=0) - 0.5)
    rough = share * mixture
    refined = wiener_filter(rough, mixture, 1)

    def error(estimate):
        return float(np.sum(np.abs(estimate - specs) ** 2))

    assert error(refined) < 0.5 * error(rough)
