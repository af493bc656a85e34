"""The shipped "band" preset: Spleeter's vocals, then the instrument models on what is left."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.models import PROJECT_ROOT, ModelRepo
from stemdesk.presets import PresetSeparator, installed_presets, open_separator

BAND_STEMS = ("vocals", "drums", "bass", "guitar", "piano", "other")
INSTRUMENT_MODELS = ("drums-unet", "bass-unet", "guitar-unet", "piano-unet")


@pytest.fixture(scope="module")
def band():
    return open_separator("band", device="cpu")


def test_the_instrument_models_are_installed_with_their_figures():
    repo = ModelRepo()
    for model in INSTRUMENT_MODELS:
        card = repo.get(model)
        assert card.stems == (model.split("-")[0], "rest") and card.license == "MIT"
        medians = card.metrics["evaluation"]["median_db"]
        target = medians[card.stems[0]]
        # The card's figures come from a real evaluation: the oracle mask beats doing nothing.
        assert target["oracle"]["sdr"] > target["identity"]["sdr"]
        assert "--split test" in card.metrics["evaluation"]["command"]
    assert "band" in [preset.id for preset in installed_presets(repo)]


def test_band_stems_come_in_order_and_sum_to_the_song(band, demo_audio):
    assert isinstance(band, PresetSeparator)
    assert band.stems == BAND_STEMS
    excerpt = Audio(demo_audio.samples[:, : 6 * demo_audio.rate], demo_audio.rate)
    stems = band.separate(excerpt)
    assert tuple(stems) == BAND_STEMS
    total = sum(stem.samples for stem in stems.values())
    assert np.max(np.abs(total - excerpt.samples)) < 1e-4
    # The first step is the shipped vocals model, run on the song itself.
    vocals = open_separator("spleeter-2stems", device="cpu").separate(excerpt)["vocals"]
    np.testing.assert_allclose(stems["vocals"].samples, vocals.samples, atol=1e-5)


def test_the_band_card_changes_with_any_of_its_models(band, tmp_path):
    preset = json.loads((PROJECT_ROOT / "models" / "band.json").read_text())
    assert [step["model"] for step in preset["steps"]] == ["spleeter-2stems", *INSTRUMENT_MODELS]
    assert len(band.card.sha256) == 64 and band.card.id == "band"
    renamed = dict(preset, steps=[*preset["steps"][:-1], dict(preset["steps"][-1], **{"as": "keys"})])
    (tmp_path / "band.json").write_text(json.dumps(renamed))
    other = open_separator(str(tmp_path / "band.json"), device="cpu")
    assert other.stems[-2] == "keys" and other.card.sha256 != band.card.sha256
