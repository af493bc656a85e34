"""The hybrid engine's core pieces without torch: its card, the complex layout, the residual projection,
the song's statistics."""

import json

import numpy as np
import pytest

from stemdesk.dsp import hann_window
from stemdesk.errors import StemdeskError
from stemdesk.hybrid import RunningMoments, channels_as_complex, complex_as_channels, project_residual
from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard


def write_card(tmp_path, **changes):
    raw = json.loads(HTDEMUCS_CARD.read_text())
    raw.update(changes)
    path = tmp_path / "htdemucs.json"
    path.write_text(json.dumps(raw))
    return path


def test_the_htdemucs_card_loads_and_describes_the_graph():
    card = HybridCard.load(HTDEMUCS_CARD)
    assert card.kind == "hybrid" and card.stems == ("drums", "bass", "other", "vocals")
    assert card.frames == 336 and card.segment_samples == 343980
    assert card.overlap_samples == 343980 - 309582  # a stride of int(0.9 * segment), as apply_model(overlap=0.1)
    assert card.onnx_path == HTDEMUCS_CARD.parent / "htdemucs.onnx"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remainder_stem": "piano"}, "remainder_stem 'piano' is not one of the stems"),
        ({"hop_length": 512}, "quarter of n_fft"),
        ({"overlap": 1.5}, "overlap"),
        ({"kind": "mask"}, "kind"),
        ({"sha256": "abc"}, "sha256"),
    ],
)
def test_bad_cards_give_one_line_naming_file_and_field(tmp_path, changes, message):
    path = write_card(tmp_path, **changes)
    with pytest.raises(StemdeskError) as error:
        HybridCard.load(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_model_file_and_bad_json_are_one_line(tmp_path):
    card = HybridCard.load(write_card(tmp_path))
    with pytest.raises(StemdeskError, match="Model file missing"):
        card.verify()
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(StemdeskError, match="not valid JSON"):
        HybridCard.load(tmp_path / "broken.json")


def test_identity_follows_what_changes_the_stems_only(tmp_path):
    base = HybridCard.load(write_card(tmp_path)).identity
    assert HybridCard.load(write_card(tmp_path, name="renamed", license="x")).identity == base
    assert HybridCard.load(write_card(tmp_path, shifts=2)).identity != base
    assert HybridCard.load(write_card(tmp_path, sha256="0" * 64)).identity != base


def test_complex_as_channels_interleaves_each_channel():
    spec = (np.arange(12) + 1j * np.arange(12, 24)).reshape(2, 3, 2).astype(np.complex64)
    layout = complex_as_channels(spec)
    assert layout.shape == (4, 3, 2)
    np.testing.assert_array_equal(layout[0], spec[0].real)
    np.testing.assert_array_equal(layout[1], spec[0].imag)
    np.testing.assert_array_equal(layout[3], spec[1].imag)
    np.testing.assert_array_equal(channels_as_complex(layout[None])[0], spec)


def sdr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


def test_projected_residual_makes_stems_sum_and_goes_where_each_stem_sounds():
    rate, length = 44100, 3 * 44100
    t = np.arange(length) / rate
    rng = np.random.default_rng(0)
    low = np.sin(2 * np.pi * 110 * t) * 0.5
    high = np.sin(2 * np.pi * 3520 * t) * 0.3
    noise = rng.standard_normal(length) * 0.05
    truth = np.stack([np.stack([low, low]), np.stack([high, high]), np.stack([noise, noise])]).astype(np.float32)
    mixture = truth.sum(axis=0)
    # A separation that misses part of each source (as Demucs' raw outputs do).
    raw = truth * np.array([0.7, 0.8, 0.5], dtype=np.float32)[:, None, None]
    window = hann_window(4096)
    projected = project_residual(raw, mixture, 4096, 1024, window)
    np.testing.assert_allclose(projected.sum(axis=0), mixture, atol=1e-5)
    for index in range(3):
        assert sdr(truth[index], projected[index]) > sdr(truth[index], raw[index]) + 3
    # Nothing missing: nothing moves.
    np.testing.assert_allclose(project_residual(truth, mixture, 4096, 1024, window), truth, atol=1e-5)


def moments_of(samples: np.ndarray, cuts: list[int]) -> tuple[int, float, float]:
    moments = RunningMoments()
    for start, stop in zip(cuts, cuts[1:]):
        moments.push(samples[start:stop])
    return moments.totals()


def test_running_moments_are_the_one_shot_statistics_whatever_the_cuts(demo_audio):
    """The channels' average of a real song: the same floats however it is cut, numpy's float64 mean and
    std to float64's precision, and its float32 one-shot ones (what the engine took before) to float32's."""
    reference = np.tile(demo_audio.samples, 3).mean(axis=0)
    size = reference.size
    rng = np.random.default_rng(7)
    results = {moments_of(reference, [0, size]), moments_of(reference, list(range(0, size, 65536)) + [size]),
               moments_of(reference, [0, 1, 2, 65537, 70_000] + sorted(rng.integers(70_001, size, 40)) + [size])}
    [(count, mean, std)] = results
    assert count == size
    assert mean == pytest.approx(reference.mean(dtype=np.float64), rel=1e-12)
    assert std == pytest.approx(reference.std(ddof=1, dtype=np.float64), rel=1e-12)
    assert mean == pytest.approx(float(reference.mean()), rel=1e-5)
    assert std == pytest.approx(float(reference.std(ddof=1)), rel=1e-6)


def test_running_moments_keep_a_small_spread_on_a_large_offset():
    """A running sum of squares would lose the spread to cancellation here; merging centred sums does not."""
    rng = np.random.default_rng(3)
    samples = (1000.0 + 1e-3 * rng.standard_normal(300_000)).astype(np.float32)
    _, mean, std = moments_of(samples, [0, 1000, 150_000, 300_000])
    assert mean == pytest.approx(samples.mean(dtype=np.float64), rel=1e-12)
    assert std == pytest.approx(samples.std(ddof=1, dtype=np.float64), rel=1e-9)


def test_running_moments_of_one_sample_and_of_none():
    assert moments_of(np.array([0.25], dtype=np.float32), [0, 1]) == (1, 0.25, 0.0)
    assert RunningMoments().totals() == (0, 0.0, 0.0)
