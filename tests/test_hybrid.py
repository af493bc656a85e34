"""The hybrid engine's core pieces without torch: its card, the complex layout, the residual projection."""

import json

import numpy as np
import pytest

from stemdesk.dsp import hann_window
from stemdesk.errors import StemdeskError
from stemdesk.hybrid import channels_as_complex, complex_as_channels, project_residual
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
