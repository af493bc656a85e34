import numpy as np
import pytest

from stemdesk import dsp


@pytest.mark.parametrize("length", [1, 1000, 4096, 44100, 523264])
def test_stft_istft_round_trip(length):
    rng = np.random.default_rng(length)
    signal = rng.uniform(-1, 1, (2, length)).astype(np.float32)
    window = dsp.hann_window(4096)
    spec = dsp.stft(signal, 4096, 1024, window)
    assert spec.shape == (2, 2049, dsp.num_frames(length, 1024))
    assert spec.dtype == np.complex64
    back = dsp.istft(spec, 4096, 1024, window, length)
    assert back.shape == signal.shape and back.dtype == np.float32
    assert np.sqrt(np.mean((back - signal) ** 2)) < 1e-6


def test_stft_matches_a_direct_dft_of_one_centred_frame():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((1, 20000)).astype(np.float32)
    window = dsp.hann_window(512)
    spec = dsp.stft(signal, 512, 128, window)
    frame = 40  # centred on sample 40 * 128
    start = frame * 128 - 256
    expected = np.fft.rfft(signal[0, start : start + 512] * window)
    np.testing.assert_allclose(spec[0, :, frame], expected, rtol=1e-4, atol=1e-3)


def test_hann_window_is_periodic_and_cola_at_quarter_hop():
    window = dsp.hann_window(4096)
    assert window[0] == 0 and window[2048] == pytest.approx(1.0)
    squares = (window**2).reshape(4, 1024).sum(axis=0)
    np.testing.assert_allclose(squares, 1.5, rtol=1e-5)


def test_normalised_masks_sum_to_one_also_where_all_are_zero():
    rng = np.random.default_rng(1)
    estimates = rng.uniform(0, 1, (3, 2, 5, 7)).astype(np.float32)
    estimates[:, :, 0, :] = 0.0
    masks = dsp.normalise_masks(estimates, power=2.0)
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(masks[:, :, 0, :], 1 / 3, rtol=1e-6)
    # a louder estimate gets a larger share, in the ratio of powers
    ratio = masks[0, 0, 1, 0] / masks[1, 0, 1, 0]
    expected = (estimates[0, 0, 1, 0] / estimates[1, 0, 1, 0]) ** 2
    assert ratio == pytest.approx(expected, rel=1e-4)


def test_apply_mask_gives_bins_above_the_mask_the_highest_bins_mask():
    rng = np.random.default_rng(2)
    spec = (rng.standard_normal((2, 10, 3)) + 1j * rng.standard_normal((2, 10, 3))).astype(np.complex64)
    mask = rng.uniform(0, 1, (2, 4, 3)).astype(np.float32)
    masked = dsp.apply_mask(spec, mask)
    assert masked.shape == spec.shape and masked.dtype == np.complex64
    np.testing.assert_allclose(masked[:, :4], spec[:, :4] * mask, rtol=1e-6)
    for row in range(4, 10):
        np.testing.assert_allclose(masked[:, row], spec[:, row] * mask[:, 3], rtol=1e-6)
