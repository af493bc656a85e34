"""The hidden Markov decoding of beats and bars from activations whose beats are known."""

import numpy as np
import pytest

from stemdesk.analysis.decoding import decode_beats, decode_meter

FPS = 22050 / 256


def activation_of(times: np.ndarray, frames: int, height: float = 0.9, floor: float = 0.01) -> np.ndarray:
    """A beat activation ``(frames,)`` peaking (3 frames wide, as the network marks a beat) at ``times`` (s)."""
    activation = np.full(frames, floor)
    for time in times:
        centre = time * FPS
        near = np.arange(int(centre) - 2, int(centre) + 3)
        near = near[(near >= 0) & (near < frames)]
        activation[near] = np.maximum(activation[near], height * np.exp(-0.5 * ((near - centre) / 0.8) ** 2))
    return activation


def test_the_beats_of_a_steady_activation_are_found_to_a_fraction_of_a_frame():
    truth = np.arange(0.5, 30.0, 60 / 123.4)
    beats = decode_beats(activation_of(truth, int(30 * FPS)), FPS, 50, 220)
    assert len(beats) == len(truth)
    assert np.max(np.abs(beats - truth)) < 0.004
    assert 60 / np.median(np.diff(beats)) == pytest.approx(123.4, rel=0.002)


def test_weaker_peaks_between_the_beats_do_not_double_the_tempo():
    truth = np.arange(0.5, 30.0, 60 / 90)
    between = (truth[:-1] + truth[1:]) / 2
    activation = np.maximum(activation_of(truth, int(30 * FPS)), activation_of(between, int(30 * FPS), height=0.2))
    beats = decode_beats(activation, FPS, 50, 220)
    assert 60 / np.median(np.diff(beats)) == pytest.approx(90, rel=0.01)
    assert np.max(np.abs(beats - truth)) < 0.02


def test_a_missing_beat_is_bridged_and_a_tempo_change_followed():
    first = np.arange(0.5, 15.0, 60 / 100)
    second = first[-1] + np.cumsum(60 / np.linspace(100, 115, 25))
    truth = np.concatenate([first, second])
    activation = activation_of(np.delete(truth, 10), int((truth[-1] + 1) * FPS))
    beats = decode_beats(activation, FPS, 50, 220)
    assert np.max(np.min(np.abs(beats[None, :] - truth[:, None]), axis=1)) < 0.03


def test_silence_gives_no_beats():
    assert len(decode_beats(np.full(1000, 0.001), FPS, 50, 220)) == 0


@pytest.mark.parametrize(("meter", "phase"), [(3, 1), (4, 2), (2, 0)])
def test_meter_and_phase_follow_the_downbeat_activation(meter, phase):
    beats = np.arange(0.5, 30.0, 0.5)
    downbeat = activation_of(beats[phase::meter], int(30 * FPS), height=0.8)
    assert decode_meter(beats, downbeat, FPS) == (meter, phase)


def test_without_downbeat_evidence_the_bar_is_four_beats():
    beats = np.arange(0.5, 30.0, 0.5)
    assert decode_meter(beats, np.full(int(30 * FPS), 0.01), FPS)[0] == 4
