"""Preferences, recent files and the stem cache, in isolated QSettings and cache folders."""

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox

from stemdesk.gui.preferences import Preferences
from tests.gui.windows import SEPARATION_TIMEOUT_MS


def test_preferences_survive_a_restart_and_bad_values_fall_back(settings, tmp_path):
    chosen = Preferences(compute_device="cpu", output_device="USB Audio", buffer_size=512,
                         export_format="FLAC 24-bit", export_folder=str(tmp_path), cache_max_mb=300)
    chosen.save(settings)
    assert Preferences.load(QSettings(settings.fileName(), QSettings.Format.IniFormat)) == chosen

    settings.setValue("preferences/compute_device", "tpu")
    settings.setValue("preferences/export_format", "MP3 320")
    settings.setValue("preferences/buffer_size", "lots")
    fallen_back = Preferences.load(settings)
    assert fallen_back.compute_device == "auto"
    assert fallen_back.export_format == Preferences.export_format
    assert fallen_back.buffer_size == Preferences.buffer_size
    assert fallen_back.export_folder == str(tmp_path)


def test_the_dialog_sets_device_buffer_export_defaults_and_cache_limit(cached_window, qtbot, tmp_path, demo_path):
    window = cached_window
    dialog = window.show_preferences()
    assert dialog.isVisible() and not dialog.isModal()
    dialog.compute_device.setCurrentIndex(dialog.compute_device.findData("cpu"))
    dialog.buffer_size.setCurrentIndex(dialog.buffer_size.findData(256))
    dialog.export_format.setCurrentText("WAV 16-bit")
    dialog.export_folder.setText(str(tmp_path / "exports"))
    dialog.cache_max_mb.setValue(512)
    with qtbot.waitSignal(dialog.applied):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

    preferences = window.preferences
    assert (preferences.compute_device, preferences.buffer_size) == ("cpu", 256)
    assert window.cache.max_bytes == 512 * 2**20
    assert Preferences.load(window.settings) == preferences, "kept in the window's QSettings"
    assert "cpu" in window.device_label.text()

    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    assert window.transport.has_output and window.transport.blocksize == 256
    export = window.exports.show_dialog()
    assert export.format.currentText() == "WAV 16-bit" and export.folder.text() == str(tmp_path / "exports")


def test_clear_cache_empties_it_and_the_next_open_separates_again(cached_window, qtbot, demo_path):
    window = cached_window
    assert window.cache.size_bytes() > 0
    with qtbot.waitSignal(window.cache_cleared) as cleared:
        window.actions["clear_cache"].trigger()
    assert cleared.args == [0] and window.cache.size_bytes() == 0
    assert "cache cleared" in window.banner.text
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS) as shown:
        window.open_song(demo_path)
    assert not shown.args[0].session.from_cache
    assert window.cache.size_bytes() > 0


def test_recent_files_menu_reopens_songs_and_remembers_them(cached_window, qtbot, settings, demo_path):
    window = cached_window
    assert not window.recent_menu.isEnabled()
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    entries = window.recent_menu.actions()
    assert entries[0].text() == demo_path.name and entries[0].toolTip() == str(demo_path.resolve())
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS) as shown:
        entries[0].trigger()
    assert shown.args[0].session.path == demo_path.resolve()
    # Another window with the same settings (the next start) sees the same list.
    reread = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert reread.value("recent/files") in ([str(demo_path.resolve())], str(demo_path.resolve()))
    window.recent_menu.actions()[-1].trigger()  # "Clear the list", in the menu rebuilt since
    assert window.recent.paths() == [] and not window.recent_menu.isEnabled()
