"""The Model menu's "Demucs v4 — 4 stems (install…)": the licence first, the install with progress and
cancel, then Demucs listed and the default; Spleeter the default without it."""

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from stemdesk.catalogue import Catalogue
from stemdesk.gui.preferences import Preferences
from stemdesk.installer import HTDEMUCS
from stemdesk.models import user_model_dir
from tests.gui.windows import make_window

GRAPH = Path(os.environ.get("STEMDESK_DEMUCS_CACHE", "/work/cache/demucs")) / "package" / "htdemucs.onnx"
needs_graph = pytest.mark.skipif(not GRAPH.is_file(), reason=f"no {GRAPH} here")
INSTALL_TIMEOUT_MS = 120_000


@pytest.fixture
def repo(model_folder, tmp_path, monkeypatch):
    """The user's model folder (empty, this test's own) before a folder holding the Spleeter model."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return Catalogue([user_model_dir(), model_folder])


def menu_ids(window):
    return [action.data() for action in window.model_menu.model_actions.actions()]


def test_without_npm_the_install_entry_opens_the_licence_and_reports_the_failure(
    qtbot, settings, tmp_path, repo, null_sound_output, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path))
    window = make_window(qtbot, settings, tmp_path / "cache", repo=repo)
    assert window.queue.model_id == "spleeter-2stems"
    (install,) = window.model_menu.install_actions
    assert install.text() == "Demucs v4 — 4 stems (install…)" and install in window.model_menu.menu.actions()
    install.trigger()
    dialog = window._dialogs[-1]
    qtbot.waitExposed(dialog)
    assert "personal and research use only" in dialog.licence.toPlainText()
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as failed:
        qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert "npm is not installed" in failed.args[0] and "\n" not in failed.args[0]
    assert dialog.isVisible() and dialog.status.text() == failed.args[0]
    assert not user_model_dir().exists() or not list(user_model_dir().iterdir())
    with qtbot.waitSignal(dialog.finished, timeout=10_000) as closed:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert closed.args == [0]
    window.close()


@needs_graph
def test_installing_from_the_menu_lists_demucs_and_makes_it_the_default(
    qtbot, settings, tmp_path, repo, null_sound_output
):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=repo)
    source = tmp_path / "htdemucs.onnx"
    source.symlink_to(GRAPH)
    dialog = window.model_menu.show_install_dialog(HTDEMUCS, source)
    qtbot.waitExposed(dialog)
    assert not user_model_dir().exists()  # nothing before the licence is accepted
    installed = []
    dialog.installed.connect(installed.append)
    with qtbot.waitSignal(dialog.finished, timeout=INSTALL_TIMEOUT_MS) as closed:
        qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    assert closed.args == [1] and installed == ["htdemucs"]  # accepted
    assert sorted(path.name for path in user_model_dir().iterdir()) == ["htdemucs.json", "htdemucs.onnx"]
    assert window.queue.model_id == "htdemucs"
    assert Preferences.load(settings).separation_model == "htdemucs"
    assert window.model_menu.install_actions == []
    # Listed once it can run (with the hybrid engine); never offered while broken.
    (entry,) = [entry for entry in repo.entries() if entry.id == "htdemucs"]
    assert ("htdemucs" in menu_ids(window)) == entry.usable
    window.close()


@needs_graph
def test_cancelling_the_install_leaves_nothing(qtbot, settings, tmp_path, repo, null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=repo)
    source = tmp_path / "htdemucs.onnx"
    source.symlink_to(GRAPH)
    dialog = window.model_menu.show_install_dialog(HTDEMUCS, source)
    qtbot.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=INSTALL_TIMEOUT_MS)
    with qtbot.waitSignal(dialog.finished, timeout=INSTALL_TIMEOUT_MS) as closed:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert closed.args == [0]  # rejected
    assert list(user_model_dir().iterdir()) == []
    assert window.queue.model_id == "spleeter-2stems" and len(window.model_menu.install_actions) == 1
    window.close()


def test_an_installed_demucs_is_the_default_until_another_model_is_chosen(
    qtbot, settings, tmp_path, repo, model_folder, null_sound_output
):
    # A model installed under htdemucs' id (here the Spleeter network under that name).
    folder = user_model_dir()
    folder.mkdir(parents=True)
    raw = json.loads((model_folder / "spleeter-2stems.json").read_text())
    (folder / "htdemucs.json").write_text(json.dumps(dict(raw, id="htdemucs", name="Demucs stand-in")))
    shutil.copy(model_folder / raw["onnx"], folder / raw["onnx"])
    window = make_window(qtbot, settings, tmp_path / "cache", repo=repo)
    assert window.queue.model_id == "htdemucs" and window.model_menu.install_actions == []
    window.model_menu.choose("spleeter-2stems")
    window.close()
    assert make_window(qtbot, settings, tmp_path / "cache", repo=repo).queue.model_id == "spleeter-2stems"
