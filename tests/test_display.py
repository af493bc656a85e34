"""Display computations: log-frequency spectrogram, stem masks, waveform envelope (no Qt)."""

import sys
import time

import numpy as np
import pytest

from stemdesk import dsp
from stemdesk.display import (
    FLOOR_DB, band_magnitudes, display_grid, effective_masks, song_picture, to_db, waveform_envelope,
)

RATE = 44_100


def sine(frequency, seconds, amplitude=0.5, channels=2, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return np.repeat((amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)[None], channels, axis=0)


def row_of(grid, frequency):
    return int(np.searchsorted(grid.row_edges, frequency) - 1)


def test_grid_caps_the_frames_and_spaces_rows_evenly_in_log_frequency():
    short = display_grid(3 * RATE, RATE)
    assert short.hop == 512 and short.frames == 1 + 3 * RATE // 512
    ten_minutes = display_grid(600 * RATE, RATE, max_frames=2000)
    assert ten_minutes.frames <= 2000
    ratios = ten_minutes.row_edges[1:] / ten_minutes.row_edges[:-1]
    np.testing.assert_allclose(ratios, ratios[0])
    assert ten_minutes.row_edges[-1] == RATE / 2


@pytest.mark.parametrize("frequency", [55.0, 440.0, 3_000.0, 12_000.0])
def test_a_sine_lights_up_the_row_of_its_frequency(frequency):
    signal = sine(frequency, 2.0)
    grid = display_grid(signal.shape[1], RATE)
    bands = band_magnitudes(signal, grid)
    loudest = np.argmax(bands[:, grid.frames // 2])
    # Resolution is one STFT bin (21.5 Hz) at the bottom, a few percent higher up.
    bin_width = RATE / grid.n_fft
    assert abs(grid.row_centres[loudest] - frequency) <= max(bin_width, 0.03 * frequency)


def test_band_magnitudes_match_the_full_stft_where_frames_cover_the_song():
    rng = np.random.default_rng(3)
    signal = rng.standard_normal((2, 2 * RATE)).astype(np.float32)
    grid = display_grid(signal.shape[1], RATE)
    bands = band_magnitudes(signal, grid)
    full = np.abs(dsp.stft(signal.mean(axis=0, keepdims=True), grid.n_fft, grid.hop, dsp.hann_window(grid.n_fft))[0])
    bin_width = RATE / grid.n_fft
    row = row_of(grid, 5_000.0)
    lo, hi = np.ceil(grid.row_edges[row : row + 2] / bin_width).astype(int)
    np.testing.assert_allclose(bands[row], full[lo:hi].mean(axis=0), rtol=1e-4)


def test_db_is_relative_to_the_loudest_cell_and_floored():
    db = to_db(np.array([[1.0, 0.1, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(db, [[0.0, -20.0, FLOOR_DB]], atol=1e-4)
    assert (to_db(np.zeros((2, 2), np.float32)) == FLOOR_DB).all()


def test_each_stems_mask_is_its_share_of_the_mixture():
    low, high = sine(110.0, 2.0), sine(2_000.0, 2.0)
    picture = song_picture(low + high, {"bass": low, "lead": high}, RATE)
    grid = picture.grid
    frame = grid.frames // 2
    masks = picture.masks
    assert masks["bass"][row_of(grid, 110.0), frame] > 0.95 and masks["lead"][row_of(grid, 110.0), frame] < 0.05
    assert masks["lead"][row_of(grid, 2_000.0), frame] > 0.95 and masks["bass"][row_of(grid, 2_000.0), frame] < 0.05
    for mask in masks.values():
        assert mask.dtype == np.float32 and mask.shape == (grid.rows, grid.frames)
        assert mask.min() >= 0.0 and mask.max() <= 1.0


def test_masks_are_power_shares_summing_to_one_and_zero_where_the_mixture_is_silent():
    mixture = np.array([[1.0, 0.0, 0.5]], dtype=np.float32)
    # Louder than the mix where phases cancel (third cell); silent mix in the second.
    stems = {"a": np.array([[0.5, 0.3, 0.9]], np.float32), "b": np.array([[0.5, 0.3, 0.3]], np.float32)}
    masks = effective_masks(stems, mixture)
    np.testing.assert_allclose(masks["a"], [[0.5, 0.0, 0.9]], rtol=1e-6)
    np.testing.assert_allclose(masks["b"], [[0.5, 0.0, 0.1]], rtol=1e-6)


def test_envelope_keeps_every_peak_of_each_slice():
    samples = np.zeros((2, 1000), dtype=np.float32)
    samples[:, 123] = 0.8
    samples[:, 877] = -0.6
    lows, highs = waveform_envelope(samples, 10)
    assert lows.shape == highs.shape == (10,)
    assert highs[1] == pytest.approx(0.8) and lows[8] == pytest.approx(-0.6)
    assert highs[[0, 2, 3, 4, 5, 6, 7, 8, 9]].max() == 0.0
    assert waveform_envelope(samples[:, :5], 10)[0].shape == (5,), "never more slices than samples"


def test_a_song_shorter_than_one_window_still_gets_a_picture():
    picture = song_picture(sine(440.0, 0.01), {"a": sine(440.0, 0.01)}, RATE)
    assert picture.spectrogram_db.shape == (picture.grid.rows, picture.grid.frames)
    assert np.isfinite(picture.spectrogram_db).all()


def test_a_ten_minute_song_is_pictured_well_within_two_seconds():
    rng = np.random.default_rng(0)
    mixture = (0.1 * rng.standard_normal((2, 600 * RATE))).astype(np.float32)
    vocals = 0.3 * mixture
    stems = {"vocals": vocals, "accompaniment": mixture - vocals}
    started = time.perf_counter()
    picture = song_picture(mixture, stems, RATE)
    seconds = time.perf_counter() - started
    print(f"picture of a 10-minute stereo song: {seconds:.2f} s", file=sys.stderr)
    assert seconds < 2.0
    cells = picture.spectrogram_db.size + sum(mask.size for mask in picture.masks.values())
    assert cells < 2_000_000, "display resolution, never the song's"
    # Power shares: 0.3² / (0.3² + 0.7²).
    np.testing.assert_allclose(picture.masks["vocals"], 0.09 / 0.58, atol=1e-3)


def test_song_picture_masks_sum_to_one_where_stems_sound():
    low, high = sine(220.0, 0.5), sine(3000.0, 0.5)
    picture = song_picture(low + high, {"low": low, "high": high}, RATE)
    total = picture.masks["low"] + picture.masks["high"]
    sounding = total > 0
    assert sounding.mean() > 0.5
    np.testing.assert_allclose(total[sounding], 1.0, atol=1e-5)
    row = np.argmin(np.abs(picture.grid.row_centres - 220.0))
    assert picture.masks["low"][row].mean() > 0.9
