"""The entry point the CLI calls: ``stemdesk SONG`` opens the window with the song."""

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from stemdesk.gui.app import run_app
from stemdesk.gui.main_window import MainWindow


def test_run_app_shows_the_song_and_returns_when_the_window_closes(tmp_path, monkeypatch, demo_path,
                                                                   null_sound_output):
    # The app's own QSettings and cache folder, pointed away from the user's.
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen = {}

    def close_once_shown():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].song is not None:
            seen["title"] = windows[0].windowTitle()
            seen["stems"] = windows[0].mixer_model.stems
            windows[0].close()
        else:
            QTimer.singleShot(50, close_once_shown)

    QTimer.singleShot(50, close_once_shown)
    assert run_app(demo_path) == 0
    assert seen["title"].startswith("audio_example") and seen["stems"] == ("vocals", "accompaniment")
    assert any((tmp_path / "cache" / "stemdesk").rglob("manifest.json")), "the separation was cached"
    stored = QSettings("stemdesk", "stemdesk")
    assert stored.fileName().startswith(str(tmp_path / "config"))
    assert str(demo_path.resolve()) in str(stored.value("recent/files"))


def test_the_application_carries_its_desktop_id_and_icon(qapp):
    from stemdesk.gui.app import DESKTOP_ID, ICON, create_application

    app = create_application()
    assert app.desktopFileName() == DESKTOP_ID
    assert ICON.is_file() and not app.windowIcon().isNull()
