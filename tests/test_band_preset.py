"""The shipped "band" preset: Spleeter's vocals, then the instrument models on what is left."""

import json

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.catalogue import Catalogue
from stemdesk.models import PROJECT_ROOT
from stemdesk.presets import PresetSeparator

BAND_STEMS = ("vocals", "drums", "bass", "guitar", "piano", "other")
INSTRUMENT_MODELS = ("drums-unet", "bass-unet", "guitar-unet", "piano-unet")


@pytest.fixture(scope="module")
def band():
    return Catalogue().open("band", device="cpu")


def test_the_instrument_models_are_installed_with_their_figures():
    repo = Catalogue()
    for model in INSTRUMENT_MODELS:
        card = repo.get(model)
        assert card.stems == (model.split("-")[0], "rest") and card.license == "MIT"
        medians = card.metrics["evaluation"]["median_db"]
        target = medians[card.stems[0]]
        # The card's figures come from a real evaluation: the oracle mask beats doing nothing.
        assert target["oracle"]["sdr"] > target["identity"]["sdr"]
        assert "--split test" in card.metrics["evaluation"]["command"]
    assert "band" in [model for model, _ in repo.choices()]


def test_band_stems_come_in_order_and_sum_to_the_song(band, demo_audio):
    assert isinstance(band, PresetSeparator)
    assert band.stems == BAND_STEMS
    excerpt = Audio(demo_audio.samples[:, : 6 * demo_audio.rate], demo_audio.rate)
    stems = band.separate(excerpt)
    assert tuple(stems) == BAND_STEMS
    total = sum(stem.samples for stem in stems.values())
    assert np.max(np.abs(total - excerpt.samples)) < 1e-4
    # The first step is the shipped vocals model, run on the song itself.
    vocals = Catalogue().open("spleeter-2stems", device="cpu").separate(excerpt)["vocals"]
    np.testing.assert_allclose(stems["vocals"].samples, vocals.samples, atol=1e-5)


def test_the_band_card_changes_with_any_of_its_models(band, tmp_path):
    preset = json.loads((PROJECT_ROOT / "models" / "band.json").read_text())
    assert [step["model"] for step in preset["steps"]] == ["spleeter-2stems", *INSTRUMENT_MODELS]
    assert len(band.card.identity) == 64 and band.card.id == "band"
    renamed = dict(preset, steps=[*preset["steps"][:-1], dict(preset["steps"][-1], **{"as": "keys"})])
    (tmp_path / "band.json").write_text(json.dumps(renamed))
    other = Catalogue().open(str(tmp_path / "band.json"), device="cpu")
    assert other.stems[-2] == "keys" and other.card.identity != band.card.identity
