"""The mixer strips, the keyboard and the views drive the real Player on ALSA's null device."""

import math
import shutil

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from stemdesk.playback import db_to_amp


def stem_arrays(window):
    return {name: stem.samples for name, stem in window.song.session.stems.items()}


def heard(window):
    """What the player's mixer renders now for the whole song, (channels, samples)."""
    mixer = window.transport.player.mixer
    return mixer.mix(mixer.state)


def test_strip_switches_and_faders_reach_the_players_mixer(demo_window, qtbot):
    window = demo_window
    stems = stem_arrays(window)
    strips = window.mixer_panel.strips
    assert window.transport.has_output and window.transport.player.mixer is window.transport.mixer

    qtbot.mouseClick(strips["vocals"].mute, Qt.MouseButton.LeftButton)
    assert window.transport.mixer.state.controls["vocals"].mute
    np.testing.assert_allclose(heard(window), stems["accompaniment"], atol=1e-6)

    qtbot.mouseClick(strips["vocals"].mute, Qt.MouseButton.LeftButton)
    strips["accompaniment"].fader.setValue(-60)  # tenths of a dB: -6.0 dB
    assert window.transport.mixer.state.controls["accompaniment"].gain_db == -6.0
    assert strips["accompaniment"].level.text() == "-6.0 dB"
    np.testing.assert_allclose(
        heard(window), stems["vocals"] + db_to_amp(-6.0) * stems["accompaniment"], atol=1e-5
    )

    # Solo: only soloed stems play, whatever the other faders say.
    qtbot.mouseClick(strips["vocals"].solo, Qt.MouseButton.LeftButton)
    assert window.transport.mixer.state.amplitudes(["vocals", "accompaniment"]) == [1.0, 0.0]
    np.testing.assert_allclose(heard(window), stems["vocals"], atol=1e-6)
    assert not strips["accompaniment"].title.isEnabled(), "a stem silenced by a solo looks off"

    window.mixer_panel.master.fader.setValue(-120)
    assert window.transport.mixer.state.master_db == -12.0
    np.testing.assert_allclose(heard(window), db_to_amp(-12.0) * stems["vocals"], atol=1e-6)

    strips["vocals"].fader.setValue(strips["vocals"].fader.minimum())
    assert window.transport.mixer.state.controls["vocals"].gain_db == -math.inf
    assert strips["vocals"].level.text() == "-∞ dB"
    assert not heard(window).any()


def test_keyboard_selects_mutes_solos_and_plays(demo_window, qtbot):
    window = demo_window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    assert window.mixer_model.selected == "vocals"

    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.mixer_model.selected == "accompaniment"
    assert window.views.mask_stem == "accompaniment"
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert window.transport.mixer.state.controls["accompaniment"].mute
    assert window.mixer_panel.strips["accompaniment"].mute.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert window.transport.mixer.state.controls["vocals"].solo
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert not window.transport.mixer.state.controls["vocals"].solo

    rate = window.transport.rate
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.transport.position == 5 * rate
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert window.transport.position == 4 * rate
    assert window.transport_bar.clock.text().startswith("0:04.00")

    # The null device has no clock: the song runs out within moments and playback stops by itself.
    with qtbot.waitSignal(window.transport.playing_changed, timeout=10_000, check_params_cb=lambda on: not on):
        qtbot.keyClick(window, Qt.Key.Key_Space)
        assert window.transport.is_playing
        assert window.transport_bar.play.toolTip().startswith("Pause")
    assert window.views.playhead == window.transport.length / rate
    assert window.transport_bar.clock.text().startswith("0:10.88")
    assert window.transport_bar.play.toolTip().startswith("Play")


def view_point(window, plot, seconds):
    """The canvas pixel showing ``seconds`` halfway up ``plot``."""
    low, high = plot.vb.viewRange()[1]
    scene = plot.vb.mapViewToScene(QPointF(seconds, (low + high) / 2))
    return window.views.canvas.mapFromScene(scene)


def drag(viewport, start, end, steps=10):
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * step / steps)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_click_seeks_and_a_dragged_loop_plays_only_between_a_and_b(demo_window, qtbot):
    window = demo_window
    canvas = window.views.canvas
    rate = window.transport.rate
    window.practice.toggle_snap()  # marked freely (snapping to the grid: tests/gui/test_practice.py)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, window.views.mask, 6.0))
    assert abs(window.transport.position / rate - 6.0) < 0.05
    assert abs(window.views.playhead - 6.0) < 0.05

    drag(canvas.viewport(), view_point(window, window.views.spectrogram, 2.0),
         view_point(window, window.views.spectrogram, 3.0))
    start, end = window.views.loop_span
    assert abs(start - 2.0) < 0.05 and abs(end - 3.0) < 0.05
    assert window.mixer_model.state.loop is None, "marking a span does not start looping by itself"

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_L)
    loop = window.transport.mixer.state.loop
    assert loop == (round(start * rate), round(end * rate))
    assert window.transport_bar.loop.isChecked() and window.actions["loop"].isChecked()
    assert window.transport.position == loop[0]

    positions = []
    window.transport.position_changed.connect(positions.append)
    window.transport.play()
    # Seconds of audio go by on the clockless null device; the loop must hold the playhead.
    qtbot.wait(400)
    assert window.transport.is_playing, "a loop never runs out"
    window.transport.pause()
    assert len(positions) >= 5
    assert all(loop[0] <= position <= loop[1] for position in positions)

    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.transport.mixer.state.loop is None
    assert not window.transport_bar.loop.isChecked()


def test_the_views_share_zoom_and_the_overview_shows_it(demo_window, qtbot):
    views = demo_window.views
    duration = views.picture.duration
    assert views.visible_span() == (0.0, duration)
    views.zoom_to(2.0, 4.0)
    assert views.mask.vb.viewRange()[0] == views.spectrogram.vb.viewRange()[0]
    assert np.allclose(views.visible_region.getRegion(), (2.0, 4.0), atol=1e-6)
    views.visible_region.setRegion((5.0, 6.5))
    assert np.allclose(views.mask.vb.viewRange()[0], (5.0, 6.5), atol=1e-6)
    # While playing, the view pages along with the playhead.
    views.set_playhead(8.0, follow=True)
    start, end = views.visible_span()
    assert start < 8.0 < end and abs((end - start) - 1.5) < 1e-6


def test_a_song_ready_while_playing_waits_for_the_musician(demo_window, qtbot, tmp_path, demo_path):
    window = demo_window
    # A loop over the whole song keeps playing on the clockless null device.
    window.practice.set_loop((0.0, window.transport.length / window.transport.rate), looping=True)
    window.transport.play()
    other = shutil.copy(demo_path, tmp_path / "next song.mp3")
    with qtbot.waitSignal(window.queue.song_ready, timeout=30_000):
        window.open_song(other)
    assert window.transport.is_playing and window.song.session.path == demo_path, "playback goes on"
    assert "next song.mp3 is separated" in window.banner.text
    assert window.banner.action_button.text() == "Open it now"
    assert window.recent.paths()[0].name == "next song.mp3"

    with qtbot.waitSignal(window.song_shown, timeout=30_000) as shown:
        qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
    assert shown.args[0].session.path == other
    assert not window.transport.is_playing, "a new song starts stopped"
