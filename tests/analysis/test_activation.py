"""The shipped beat network through ONNX Runtime, on a click track whose beats are known."""

import json

import numpy as np
import pytest

from stemdesk.analysis.activation import BEAT_NETWORK, beat_activations, network_input
from stemdesk.analysis.features import FPS, log_mel, mono
from stemdesk.errors import StemdeskError

from .signals import click_track


def test_the_network_marks_the_clicks_and_the_accented_ones_as_downbeats():
    audio, truth = click_track(104.0, 20.0, meter=4)
    activations = beat_activations(log_mel(mono(audio)))
    assert activations.shape[0] == 2 and activations.dtype == np.float32
    frames = np.round(truth * FPS).astype(int)
    near = np.clip(frames[:, None] + np.arange(-2, 3)[None, :], 0, activations.shape[1] - 1)
    on_beat = activations[0][near].max(axis=1)
    halfway = np.round((truth[:-1] + truth[1:]) / 2 * FPS).astype(int)
    assert np.median(on_beat) > 0.5 and np.median(activations[0][halfway]) < 0.1
    downbeat = activations[1][near].max(axis=1)
    bars = downbeat[: len(downbeat) // 4 * 4].reshape(-1, 4)
    # In every whole bar the accented click is the likeliest downbeat, by a clear margin on average.
    assert np.all(np.argmax(bars, axis=1) == 0)
    assert bars[:, 0].mean() > 1.5 * bars[:, 1:].mean()


def test_network_input_is_the_level_and_its_rise():
    spectrum = np.full((96, 5), -80.0, np.float32)
    spectrum[:, 2:] = 0.0
    features = network_input(spectrum)
    assert features.shape == (192, 5)
    assert np.allclose(features[:96, :2], 0.0) and np.allclose(features[:96, 2:], 1.0)
    assert np.allclose(features[96:, 2], 1.0) and np.allclose(np.delete(features[96:], 2, axis=1), 0.0)


def test_the_card_says_what_the_network_was_trained_on():
    card = json.loads(BEAT_NETWORK.with_suffix(".json").read_text())
    assert card["onnx"] == BEAT_NETWORK.name and card["source"]["steps"] > 0
    assert BEAT_NETWORK.stat().st_size < 1_000_000


def test_a_missing_network_is_one_clear_error(tmp_path):
    with pytest.raises(StemdeskError, match="beat network is missing"):
        beat_activations(np.zeros((96, 100), np.float32), tmp_path / "absent.onnx")
