"""The Model menu: separating with another installed model or a preset, kept in the preferences."""

import json
import shutil

import numpy as np
import pytest

from stemdesk.gui.preferences import Preferences
from stemdesk.catalogue import Catalogue
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

PRESET = {
    "id": "lead-backing", "name": "Lead, backing vocals and band", "version": "1.0.0", "kind": "preset",
    "steps": [{"model": "spleeter-2stems", "keep": "vocals", "as": "lead"},
              {"model": "spleeter-2stems", "keep": "vocals", "as": "backing"}],
    "residual": "band",
}


@pytest.fixture
def repo(model_folder):
    """The real model, a preset chaining it twice, and a preset whose model is missing."""
    folder = model_folder
    (folder / "lead-backing.json").write_text(json.dumps(PRESET))
    missing = dict(PRESET, id="orphan", steps=[{"model": "kazoo-unet", "keep": "kazoo"}])
    (folder / "orphan.json").write_text(json.dumps(missing))
    return Catalogue([folder])


def menu_items(window):
    return [(action.data(), action.text(), action.isChecked()) for action in window.model_menu.model_actions.actions()]


def test_choosing_a_preset_separates_the_shown_song_again_and_is_remembered(
    qtbot, settings, tmp_path, filled_cache_root, null_sound_output, repo, demo_path, demo_audio, default_card
):
    cache_root = tmp_path / "cache"
    shutil.copytree(filled_cache_root, cache_root)
    window = make_window(qtbot, settings, cache_root, repo=repo)
    assert menu_items(window) == [
        ("spleeter-2stems", default_card.name, True),
        ("lead-backing", PRESET["name"], False),
    ]
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    assert tuple(window.song.session.stems) == ("vocals", "accompaniment")

    preset_action = window.model_menu.model_actions.actions()[1]
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS) as shown:
        preset_action.trigger()
    session = shown.args[0].session
    assert not session.from_cache
    assert tuple(session.stems) == ("lead", "backing", "band") == window.mixer_model.stems
    assert list(window.mixer_panel.strips) == ["lead", "backing", "band"]
    np.testing.assert_allclose(sum(s.samples for s in session.stems.values()), demo_audio.samples, atol=1e-4)
    assert PRESET["name"] in window.song_card.details.text()
    assert [checked for _, _, checked in menu_items(window)] == [False, True]
    assert Preferences.load(settings).separation_model == "lead-backing"

    window.close()

    # A new window separates with the preset chosen last; its stems are in the cache now, and
    # going back to the model finds the model's stems there too.
    reopened = make_window(qtbot, settings, cache_root, repo=repo)
    assert reopened.queue.model_id == "lead-backing"
    with qtbot.waitSignal(reopened.song_shown, timeout=10_000) as shown:
        reopened.open_song(demo_path)
    assert shown.args[0].session.from_cache and tuple(shown.args[0].session.stems) == ("lead", "backing", "band")
    with qtbot.waitSignal(reopened.song_shown, timeout=10_000) as shown:
        reopened.model_menu.model_actions.actions()[0].trigger()
    assert shown.args[0].session.from_cache
    assert tuple(shown.args[0].session.stems) == ("vocals", "accompaniment") == reopened.mixer_model.stems
    assert Preferences.load(settings).separation_model == "spleeter-2stems"
    reopened.close()


def test_a_preset_with_a_missing_model_is_reported_and_another_model_can_be_chosen(
    qtbot, settings, tmp_path, null_sound_output, repo, demo_path
):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=repo, model_id="orphan")
    assert window.banner.isVisible()
    assert "orphan.json: steps.0.model" in window.banner.text and "kazoo-unet" in window.banner.text
    assert "orphan" not in [model for model, _, _ in menu_items(window)]
    with qtbot.waitSignal(window.queue.failed, timeout=10_000) as failed:
        window.open_song(demo_path)
    assert "kazoo-unet" in failed.args[1] and "\n" not in failed.args[1]
    # The musician picks an installed model from the menu and goes on.
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.model_menu.model_actions.actions()[0].trigger()
        window.open_song(demo_path)
    assert tuple(window.song.session.stems) == ("vocals", "accompaniment")
    window.close()
