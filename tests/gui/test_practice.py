"""The practice tools in the window: the beat grid, loops on bars, tempo and transpose keys, saved set-ups."""

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from stemdesk.analysis.grid import uniform_grid
from tests.gui.test_mixer_and_playback import drag, view_point
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

#: A grid for the demo song: 120 bpm from 0 s, so beats every 0.5 s and 4/4 bars every 2 s.
BPM = 120.0


def drag_holding(viewport, start, end, modifiers, steps=5):
    """A left drag from ``start`` to ``end`` with ``modifiers`` held (QTest's moves carry none)."""
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifiers, start)
    for step in range(1, steps + 1):
        pos = QPointF(start + (end - start) * step / steps)
        move = QMouseEvent(QEvent.Type.MouseMove, pos, viewport.mapToGlobal(pos), Qt.MouseButton.NoButton,
                           Qt.MouseButton.LeftButton, modifiers)
        QApplication.sendEvent(viewport, move)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifiers, end)


@pytest.fixture
def grid_window(demo_window, qtbot):
    """The demo song on screen with the steady 120-bpm grid, as if the musician had corrected it."""
    window = demo_window
    window.practice.set_grid(uniform_grid(BPM, window.views.picture.duration), corrected=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def test_the_beat_analysis_draws_its_grid_with_bar_numbers(demo_window, qtbot):
    window = demo_window
    qtbot.waitUntil(lambda: window.practice.grid is not None, timeout=60_000)
    grid = window.practice.grid
    assert 60 < grid.bpm < 200 and len(grid.downbeats) >= 3
    assert window.views.grid is grid
    beat_lines, bar_lines = window.views._grid_curves[:2]
    assert len(bar_lines.getData()[0]) == 2 * len(grid.downbeats)
    assert len(beat_lines.getData()[0]) == 2 * (len(grid.beats) - len(grid.downbeats))
    # Zoomed out to the whole song, every bar is numbered above the spectrogram.
    axis = window.views.bar_axis
    start, end = window.views.visible_span()
    (_, ticks), = axis.tickValues(start, end, window.views.spectrogram.vb.width())
    assert np.allclose(ticks, grid.downbeats)
    assert axis.tickStrings(ticks, 1, 1) == [str(bar) for bar in range(1, len(ticks) + 1)]
    assert window.transport_bar.bpm.text().endswith("bpm")


def test_a_dragged_loop_snaps_to_bars_and_alt_frees_it(grid_window, qtbot):
    window = grid_window
    rate = window.transport.rate
    spectrogram = window.views.spectrogram
    drag(window.views.canvas.viewport(), view_point(window, spectrogram, 2.15), view_point(window, spectrogram, 5.85))
    assert window.practice.state.loop == pytest.approx((2.0, 6.0), abs=1e-6), "snapped to the bar lines"
    assert "bars 2-3" in window.transport_bar.loop_span.text()
    assert window.views.loop_span == pytest.approx((2.0, 6.0), abs=1e-6)

    # A short drag snaps to beats.
    window.views.mark_loop(3.1, 3.9)
    assert window.practice.state.loop == pytest.approx((3.0, 4.0), abs=1e-6)
    # Alt (or B: snapping off) marks exactly what was dragged. A press where the first drag
    # began, within the double-click interval, would be a double click, not a drag.
    qtbot.wait(QApplication.doubleClickInterval() + 100)
    drag_holding(window.views.canvas.viewport(), view_point(window, spectrogram, 2.15),
                 view_point(window, spectrogram, 5.85), Qt.KeyboardModifier.AltModifier)
    assert window.practice.state.loop == pytest.approx((2.15, 5.85), abs=0.03)
    window.views.mark_loop(2.15, 5.85, free=True)
    assert window.practice.state.loop == pytest.approx((2.15, 5.85), abs=1e-6)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert not window.practice.state.snap and not window.actions["snap"].isChecked()
    window.views.mark_loop(2.15, 5.85)
    assert window.practice.state.loop == pytest.approx((2.15, 5.85), abs=1e-6)

    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.transport.mixer.state.loop == (round(2.15 * rate), round(5.85 * rate))


def test_loop_bars_move_them_and_loop_the_current_bar(grid_window, qtbot):
    window = grid_window
    rate = window.transport.rate
    dialog = window.tools.show_loop_bars_dialog()
    dialog.setTextValue("2-4")
    dialog.accept()
    assert window.practice.state.loop == pytest.approx((2.0, 8.0)) and window.practice.state.looping
    assert window.transport.mixer.state.loop == (2 * rate, 8 * rate)
    assert window.transport.position == 2 * rate, "stopped, the playhead goes to the loop"

    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.practice.state.loop == pytest.approx((4.0, 10.0)), "bars 3-5"
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert window.practice.state.loop == pytest.approx((0.0, 6.0)), "bars 1-3"
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert window.practice.state.loop == pytest.approx((0.0, 6.0)), "no bar before the first"

    window.transport.seek_seconds(5.2)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
    assert window.practice.state.loop == pytest.approx((4.0, 6.0)) and "bar 3" in window.transport_bar.loop_span.text()

    assert not window.tools.loop_bars_text("40-44"), "bars the song does not have"
    assert window.banner.isVisible() and "1-6" in window.banner.text
    assert window.practice.state.loop == pytest.approx((4.0, 6.0))


def test_tempo_transpose_click_and_count_in_keys(grid_window, qtbot):
    window = grid_window
    bar = window.transport_bar
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.practice.state.tempo == pytest.approx(1.05) and bar.tempo.value() == 105
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.practice.state.tempo == pytest.approx(0.90) and bar.tempo.value() == 90
    assert bar.bpm.text() == "108.0 bpm", "the grid's 120 bpm played at 90 %"
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert window.practice.state.transpose == 1.0 and bar.transpose.value() == 1.0
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.practice.state.transpose == -2.0
    bar.tempo.setValue(75)
    assert window.practice.state.tempo == 0.75
    bar.transpose.setValue(-2.5)
    assert window.practice.state.transpose == -2.5
    # The player's render thread gets them: -2.5 semitones is -2 and -50 cents.
    player = window.transport.player
    assert (player.practice.tempo, player.practice.semitones, player.practice.cents) == (0.75, -2.0, -50.0)
    assert np.allclose(player.grid.beats, window.practice.grid.beats)

    click = window.mixer_panel.click
    assert click.isVisible() and click.mute.isChecked(), "the click strip starts muted"
    qtbot.keyClick(window, Qt.Key.Key_C)
    assert window.practice.state.click and not click.mute.isChecked() and window.actions["click"].isChecked()
    click.fader.setValue(-120)
    assert window.practice.state.click_db == -12.0 and click.level.text() == "-12.0 dB"
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert window.practice.state.count_in_bars == 1 and click.count_in.currentData() == 1
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert window.practice.state.count_in_bars == 2
    click.each_pass.setChecked(True)
    assert window.practice.state.count_in_each_pass
    assert (player.practice.click_muted, player.practice.click_db) == (False, -12.0)
    assert (player.practice.count_in_bars, player.practice.count_in_each_loop) == (2, True)
    qtbot.mouseClick(click.mute, Qt.MouseButton.LeftButton)
    assert not window.practice.state.click


def test_grid_corrections(grid_window, qtbot):
    window = grid_window
    tools = window.tools
    window.transport.seek_seconds(1.02)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.practice.grid.downbeats[0] == pytest.approx(1.0), "this is beat 1"
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.ControlModifier)
    assert window.practice.grid.bpm == pytest.approx(60.0)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.ControlModifier)
    assert window.practice.grid.bpm == pytest.approx(120.0)
    before = window.practice.grid.beats.copy()
    qtbot.keyClick(window, Qt.Key.Key_Period)
    assert np.allclose(window.practice.grid.beats[1:6], before[1:6] + 0.01)

    # Shift+drag on the spectrogram drags the grid by as much as the mouse moved.
    before = window.practice.grid.beats.copy()
    spectrogram = window.views.spectrogram
    shifts = []
    window.views.grid_shift_requested.connect(shifts.append)
    viewport = window.views.canvas.viewport()
    start, end = view_point(window, spectrogram, 4.0), view_point(window, spectrogram, 4.3)
    drag_holding(viewport, start, end, Qt.KeyboardModifier.ShiftModifier)
    assert shifts and shifts[-1] == pytest.approx(0.3, abs=0.02)
    assert np.allclose(window.practice.grid.beats[2:8], before[2:8] + shifts[-1])

    # Four taps 0.6 s apart (stopped: the clock stands in for the music) set 100 bpm.
    for tap in range(4):
        tools.tap_tempo(now=100.0 + 0.6 * tap)
    assert window.practice.grid.bpm == pytest.approx(100.0, rel=1e-3)
    assert window.practice.grid_corrected


def test_the_practice_setup_is_saved_with_the_song_and_restored(
    qtbot, settings, tmp_path, filled_cache_root, null_sound_output, demo_path
):
    cache_root = tmp_path / "cache"
    shutil.copytree(filled_cache_root, cache_root)
    window = make_window(qtbot, settings, cache_root)
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    window.practice.correct_grid(uniform_grid(100.0, window.views.picture.duration, offset=0.3))
    window.tools.loop_bars(2, 3)
    window.practice.set_tempo(0.8)
    window.practice.set_transpose(-2.0)
    window.practice.set_click(True)
    window.practice.set_count_in(2)
    window.tools.add_marker("chorus")
    window.mixer_model.set_mute("vocals", True)
    window.mixer_model.set_gain("accompaniment", -4.5)
    setup, grid = window.practice.state, window.practice.grid
    window.close()

    # The same song under another name, in a new window.
    renamed = shutil.copy(demo_path, tmp_path / "renamed.mp3")
    reopened = make_window(qtbot, settings, cache_root)
    with qtbot.waitSignal(reopened.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        reopened.open_song(renamed)
    state = reopened.practice.state
    assert state == setup
    assert state.loop is not None and state.looping and state.tempo == 0.8 and state.transpose == -2.0
    assert [marker.name for marker in state.markers] == ["chorus"]
    assert [name for name, _ in reopened.views.markers] == ["chorus"], "drawn on the overview"
    assert state.markers[0].seconds == pytest.approx(state.loop[0], abs=1e-4), "where the playhead was"
    qtbot.waitUntil(lambda: reopened.practice.grid is not None)
    assert np.allclose(reopened.practice.grid.beats, grid.beats) and reopened.practice.grid_corrected
    assert reopened.mixer_model.state.controls["vocals"].mute
    assert reopened.mixer_model.state.controls["accompaniment"].gain_db == -4.5
    rate = reopened.transport.rate
    assert reopened.transport.mixer.state.loop == (round(state.loop[0] * rate), round(state.loop[1] * rate))
    assert reopened.transport_bar.tempo.value() == 80
    assert len(list((tmp_path / "data" / "practice").glob("*.json"))) == 1, "one file per song, whatever its name"
    reopened.close()


def test_activity_lanes_show_who_plays_and_a_click_loops_a_span(demo_window, qtbot):
    window = demo_window
    views = window.views
    qtbot.waitUntil(lambda: any(views.activity.values()), timeout=60_000)
    assert list(views.activity) == ["vocals", "accompaniment"] and views.lanes.isVisible()
    # The demo's singer comes in after an instrumental start: the vocals' first span starts later.
    (start, end), *_ = views.activity["vocals"]
    assert views.activity["accompaniment"][0][0] < start < end
    lane = list(views.activity).index("vocals")
    point = views.lanes.vb.mapViewToScene(QPointF((start + end) / 2, lane))
    qtbot.mouseClick(views.canvas.viewport(), Qt.MouseButton.LeftButton, pos=views.canvas.mapFromScene(point))
    assert window.practice.state.loop == pytest.approx((start, end)) and window.practice.state.looping
    rate = window.transport.rate
    assert window.transport.mixer.state.loop == (round(start * rate), round(end * rate))
