"""Errors a musician can cause show in the window, never block it, and the window goes on."""

import numpy as np
from PySide6.QtCore import Qt

from stemdesk.audio import Audio
from stemdesk.gui.exporting import ExportRequest
from stemdesk.gui.preferences import Preferences
from stemdesk.catalogue import Catalogue
from tests.gui.song_files import write_wav
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window


def open_and_fail(window, qtbot, path):
    with qtbot.waitSignal(window.queue.failed, timeout=SEPARATION_TIMEOUT_MS) as failed:
        window.open_song(path)
    return failed.args[1]


def test_a_file_that_is_not_audio_shows_an_error_and_the_next_song_opens(cached_window, qtbot, tmp_path,
                                                                           demo_path):
    text_file = tmp_path / "lyrics.mp3"
    text_file.write_text("Verse 1: this is not audio\n" * 50)
    message = open_and_fail(cached_window, qtbot, text_file)
    assert "lyrics.mp3" in message
    assert cached_window.banner.isVisible() and cached_window.banner.level == "error"
    assert "lyrics.mp3" in cached_window.banner.text and "\n" not in cached_window.banner.text
    assert cached_window.statusBar().currentMessage() == cached_window.banner.text
    assert cached_window.song is None and text_file not in cached_window.recent.paths()

    with qtbot.waitSignal(cached_window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        cached_window.open_song(demo_path)


def test_a_failed_separation_shows_why_and_the_open_song_stays(demo_window, qtbot, tmp_path, demo_audio):
    # Three channels: the separator takes mono or stereo only.
    three = Audio(np.concatenate([demo_audio.samples, demo_audio.samples[:1]])[:, :44100], demo_audio.rate)
    message = open_and_fail(demo_window, qtbot, write_wav(tmp_path / "surround.wav", three))
    assert "3 channels" in message and demo_window.banner.level == "error"
    assert demo_window.song.session.path.name == "audio_example.mp3"
    qtbot.waitUntil(lambda: not demo_window.separation_panel.isVisible())
    assert demo_window.transport.has_output and demo_window.actions["play"].isEnabled()


def test_a_missing_model_is_reported_at_start_and_when_opening(qtbot, settings, tmp_path, demo_path,
                                                               null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=Catalogue([tmp_path / "no-models"]))
    assert window.banner.level == "error" and "spleeter-2stems" in window.banner.text
    message = open_and_fail(window, qtbot, demo_path)
    assert "Unknown model 'spleeter-2stems'" in message
    assert window.isVisible() and window.actions["open"].isEnabled()
    window.close()


def test_without_a_sound_output_the_song_still_opens_and_exports(cached_window, qtbot, tmp_path, demo_path):
    window = cached_window
    window.apply_preferences(Preferences(output_device="No Such Sound Card", export_folder=str(tmp_path)))
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    assert not window.transport.has_output
    assert window.output_label.text() == "No sound output"
    assert window.banner.level == "warning" and "No Such Sound Card" in window.banner.text
    assert window.views.picture is not None and window.mixer_panel.isEnabled()

    qtbot.mouseClick(window.transport_bar.play, Qt.MouseButton.LeftButton)
    assert not window.transport.is_playing
    window.transport.seek_seconds(3.0)
    assert window.transport_bar.clock.text().startswith("0:03.00")
    window.mixer_model.set_mute("vocals", True)
    with qtbot.waitSignal(window.exports.finished, timeout=30_000) as finished:
        window.exports.export(ExportRequest("mix", tmp_path, "WAV 32-bit float"))
    assert finished.args[0][0].is_file()

    # Choosing the default output again brings the sound back for the open song.
    window.apply_preferences(Preferences(output_device="", export_folder=str(tmp_path)))
    assert window.transport.has_output and window.output_label.text() == "Output: default"
    assert window.transport.player.mixer.state.controls["vocals"].mute, "the mix survives the new output"
