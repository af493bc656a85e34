"""Exports from the window: the files hold exactly the chosen stems with their gains."""

import os

import numpy as np
import soundfile
from PySide6.QtCore import Qt

from pathlib import Path

from stemdesk.gui.export_dialog import ExportDialog
from stemdesk.gui.exporting import ExportRequest
from stemdesk.gui.preferences import Preferences
from stemdesk.playback import db_to_amp
from stemdesk.stem_files import song_gain
from tests.gui.windows import SEPARATION_TIMEOUT_MS

# libsndfile scales floats by 32767 when writing 16-bit and by 1/32768 when reading:
# up to about one and a half steps of difference near full scale.
PCM_16_TOLERANCE = 2 * 2.0**-15


def read(path):
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return samples.T, rate


def export(window, qtbot, request):
    with qtbot.waitSignal(window.exports.finished, timeout=30_000) as finished:
        assert window.exports.export(request)
    return finished.args[0]


def test_chosen_stems_are_written_exactly_as_float_wav(demo_window, qtbot, tmp_path):
    stems = demo_window.song.session.stems
    paths = export(demo_window, qtbot, ExportRequest("stems", tmp_path, "WAV 32-bit float", ("vocals",)))
    assert paths == [tmp_path / "audio_example" / "audio_example - vocals.wav"]
    samples, rate = read(paths[0])
    assert rate == stems["vocals"].rate
    np.testing.assert_array_equal(samples, stems["vocals"].samples)
    assert sorted(os.listdir(paths[0].parent)) == ["audio_example - vocals.wav"], "no temporary file is left behind"
    assert "Exported vocals" in demo_window.banner.text and demo_window.banner.level == "info"


def test_everything_but_vocals_is_the_mixture_minus_the_vocals(demo_window, qtbot, tmp_path):
    session = demo_window.song.session
    (path,) = export(demo_window, qtbot, ExportRequest("rest", tmp_path, "FLAC 24-bit", ("vocals",)))
    assert path.name == "audio_example - no_vocals.flac"
    samples, _ = read(path)
    # The demo's rests just exceed full scale: 24-bit lowers them by the song's one gain.
    gain = song_gain(session.stems, session.mixture, "PCM_24")
    assert 0.9 < gain <= 1.0 and np.abs(samples).max() <= 1.0
    expected = session.mixture.samples - session.stems["vocals"].samples
    np.testing.assert_allclose(samples, gain * expected, atol=2.0**-22)
    # With two stems, everything but the vocals is the accompaniment.
    np.testing.assert_allclose(samples, gain * session.stems["accompaniment"].samples, atol=2e-4)


def test_current_mix_export_follows_the_faders_mute_and_solo(demo_window, qtbot, tmp_path):
    stems = demo_window.song.session.stems
    strips = demo_window.mixer_panel.strips
    strips["vocals"].fader.setValue(-95)  # -9.5 dB
    demo_window.mixer_panel.master.fader.setValue(-30)  # -3.0 dB
    (path,) = export(demo_window, qtbot, ExportRequest("mix", tmp_path, "WAV 16-bit"))
    samples, _ = read(path)
    master = db_to_amp(-3.0)
    expected = master * (db_to_amp(-9.5) * stems["vocals"].samples + stems["accompaniment"].samples)
    assert np.max(np.abs(samples - np.clip(expected, -1, 1))) <= PCM_16_TOLERANCE

    qtbot.mouseClick(strips["accompaniment"].solo, Qt.MouseButton.LeftButton)
    (path,) = export(demo_window, qtbot, ExportRequest("mix", tmp_path, "WAV 24-bit"))
    samples, _ = read(path)
    np.testing.assert_allclose(samples, master * stems["accompaniment"].samples, atol=2.0**-22)


def test_the_export_dialog_asks_for_what_it_shows(demo_window, qtbot, tmp_path):
    dialog = demo_window.exports.show_dialog()
    assert dialog.isVisible() and not dialog.isModal()
    dialog.kind_rest.setChecked(True)
    dialog.rest_stem.setCurrentText("vocals")
    dialog.format.setCurrentText("FLAC 16-bit")
    dialog.folder.setText(str(tmp_path))
    with qtbot.waitSignal(demo_window.exports.finished, timeout=30_000) as finished:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] == [tmp_path / "audio_example" / "audio_example - no_vocals.flac"]
    assert soundfile.info(finished.args[0][0]).subtype == "PCM_16"

    # The next export starts from this one's folder and choice, in this window and the next.
    for dialog in (demo_window.exports.show_dialog(), ExportDialog(
            demo_window.mixer_model.stems, Preferences.load(demo_window.settings).export_format,
            Path(Preferences.load(demo_window.settings).export_folder),
            kind=Preferences.load(demo_window.settings).export_kind,
            chosen=tuple(Preferences.load(demo_window.settings).export_stems.split(",")))):
        assert dialog.kind_rest.isChecked() and dialog.rest_stem.currentText() == "vocals"
        assert dialog.format.currentText() == "FLAC 16-bit" and dialog.folder.text() == str(tmp_path)
        dialog.close()

    dialog = demo_window.exports.show_dialog()
    dialog.kind_stems.setChecked(True)
    for box in dialog.stem_boxes.values():
        box.setChecked(False)
    assert not dialog.export_button.isEnabled(), "exporting no stem at all is not offered"


def test_a_write_that_runs_out_of_space_shows_an_error_and_leaves_no_file(demo_window, qtbot, tmp_path,
                                                                          file_size_limit):
    file_size_limit(64 * 1024)
    with qtbot.waitSignal(demo_window.exports.failed, timeout=30_000) as failed:
        demo_window.exports.export(ExportRequest("stems", tmp_path, "WAV 16-bit", ("vocals", "accompaniment")))
    assert "vocals.wav" in failed.args[0]
    assert demo_window.banner.level == "error" and "Export failed" in demo_window.banner.text
    assert not (tmp_path / "audio_example").exists(), "no half-written file under any name, no empty folder"
    qtbot.waitUntil(lambda: not demo_window.exports.progress.isVisible())
    assert demo_window.transport.has_output and demo_window.song is not None, "the window keeps working"


def test_stems_of_a_song_above_full_scale_share_one_gain_in_16_bit_and_the_banner_says_so(
        cached_window, qtbot, tmp_path, demo_audio):
    hot = demo_audio.samples[:, 44100:110250]
    hot = hot * np.float32(1.5 / np.abs(hot).max())
    soundfile.write(tmp_path / "hot.wav", hot.T, demo_audio.rate, subtype="FLOAT")
    with qtbot.waitSignal(cached_window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        cached_window.open_song(tmp_path / "hot.wav")
    paths = export(cached_window, qtbot, ExportRequest("stems", tmp_path, "WAV 16-bit", ("vocals", "accompaniment")))
    assert cached_window.banner.level == "warning"
    assert "lowered by" in cached_window.banner.text and "16-bit" in cached_window.banner.text
    (rest,) = export(cached_window, qtbot, ExportRequest("rest", tmp_path, "WAV 16-bit", ("vocals",)))
    vocals, accompaniment = (read(path)[0].astype(np.float64) for path in paths)
    gain = float(np.sum((vocals + accompaniment) * hot) / np.sum(hot.astype(np.float64) ** 2))
    assert 0.3 < gain < 0.95
    assert max(np.abs(vocals).max(), np.abs(accompaniment).max(), np.abs(read(rest)[0]).max()) <= 1.0
    np.testing.assert_allclose(vocals + accompaniment, gain * hot, atol=2 * PCM_16_TOLERANCE)
    np.testing.assert_allclose(read(rest)[0], gain * hot - vocals, atol=2 * PCM_16_TOLERANCE)

    (floating,) = export(cached_window, qtbot, ExportRequest("stems", tmp_path / "f", "WAV 32-bit float", ("vocals",)))
    assert cached_window.banner.level == "info" and "lowered" not in cached_window.banner.text
    np.testing.assert_array_equal(read(floating)[0], cached_window.song.session.stems["vocals"].samples)
