"""Opening songs in the window: the real model separates them on a worker thread."""

import shutil
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from stemdesk.gui.separation_panel import describe_time_left
from stemdesk.gui.separation_queue import TimeLeft, describe_progress
from stemdesk.stem_cache import StemCache
from tests.gui.song_files import tiled, write_wav
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

# The bound on how long the event loop may go unanswered while separating.
MAX_EVENT_LOOP_GAP_MS = 50


class GapRecorder:
    """Times a 10 ms QTimer's ticks: the longest gap is the event loop's worst answer time."""

    def __init__(self, interval_ms: int = 10):
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last: float | None = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.gaps)


@pytest.fixture
def empty_window(qtbot, settings, tmp_path, null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache")
    yield window
    window.close()


def drop_files(window, paths):
    """A real drag enter + drop of local files onto the window; returns whether both were accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    centre = window.rect().center()
    # Qt's signatures: the enter event takes a QPoint, the drop a QPointF.
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted() and drop.isAccepted()


def test_opening_separates_in_the_background_and_shows_the_song(empty_window, qtbot, demo_path, demo_audio,
                                                                 default_card):
    window = empty_window
    gaps = GapRecorder()
    devices = []
    window.queue.device_ready.connect(devices.append)
    progress = []
    window.queue.progressed.connect(lambda done, total, left, text: progress.append((done, total)))
    gaps.timer.start()
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
        assert window.separation_panel.isVisible() and window.separation_panel.cancel_button.isEnabled()
    gaps.timer.stop()

    print(f"event loop: worst gap {gaps.worst_ms:.1f} ms over {len(gaps.gaps)} ticks, from opening to shown")

    assert len(gaps.gaps) > 20, "the timer must have run during the separation"
    assert gaps.worst_ms < MAX_EVENT_LOOP_GAP_MS
    assert devices == ["CPU"] and "CPU" in window.device_label.text()
    assert progress[-1][0] == progress[-1][1] >= 1

    session = window.song.session
    assert not session.from_cache
    assert tuple(session.stems) == default_card.stems == window.mixer_model.stems
    assert list(window.mixer_panel.strips) == list(default_card.stems)
    np.testing.assert_allclose(sum(stem.samples for stem in session.stems.values()), demo_audio.samples, atol=1e-4)
    assert window.views.picture is not None and window.views.mask_stem == "vocals"
    assert window.stack.currentWidget() is window.views
    assert "audio_example" in window.windowTitle()
    qtbot.waitUntil(lambda: not window.separation_panel.isVisible())
    # The finished separation was kept: reopening is a cache hit.
    assert StemCache(window.cache.root).load(StemCache.key(demo_audio, default_card)) is not None

    started = time.perf_counter()
    with qtbot.waitSignal(window.song_shown, timeout=10_000) as shown:
        window.open_song(demo_path)
    reopen_seconds = time.perf_counter() - started
    print(f"reopening from the cache: {reopen_seconds:.2f} s")
    assert shown.args[0].session.from_cache
    assert reopen_seconds < 2.0


def test_cancel_stops_the_separation_and_keeps_the_window_usable(empty_window, qtbot, tmp_path, demo_audio,
                                                                  demo_path):
    window = empty_window
    long_song = write_wav(tmp_path / "three_times.wav", tiled(demo_audio, 3))
    with qtbot.waitSignal(window.queue.progressed, timeout=SEPARATION_TIMEOUT_MS) as first:
        window.open_song(long_song)
    done, total, _, text = first.args
    assert text.endswith("%") and "chunk" not in text
    assert total >= 3 and done < total
    assert window.separation_panel.progress.maximum() == total

    with qtbot.waitSignal(window.queue.cancelled, timeout=SEPARATION_TIMEOUT_MS) as cancelled:
        qtbot.mouseClick(window.separation_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert cancelled.args == [long_song]
    qtbot.waitUntil(lambda: not window.queue.busy)
    assert window.song is None and window.stack.currentWidget() is window.drop_hint
    assert "cancelled" in window.banner.text
    assert window.cache.size_bytes() == 0, "a cancelled separation stores nothing"

    # The window goes on: the next song opens normally.
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)


def test_a_song_dropped_while_another_separates_waits_its_turn(empty_window, qtbot, tmp_path, demo_path):
    window = empty_window
    # A byte-identical copy: the same audio, so it is a cache hit once the first is done.
    second = shutil.copy(demo_path, tmp_path / "second take.mp3")
    shown = []
    window.song_shown.connect(lambda loaded: shown.append(loaded.session.path))
    with qtbot.waitSignal(window.queue.started, timeout=10_000):
        assert drop_files(window, [demo_path])
    assert drop_files(window, [second])
    assert window.queue.waiting == [second]
    assert "will be separated after" in window.banner.text
    assert window.separation_panel.waiting.text() == "+1 waiting"

    qtbot.waitUntil(lambda: len(shown) == 2, timeout=SEPARATION_TIMEOUT_MS)
    assert shown == [demo_path, second]
    assert window.song.session.from_cache
    assert [path.name for path in window.recent.paths()] == ["second take.mp3", demo_path.name]
    assert [action.text() for action in window.recent_menu.actions()[:2]] == ["second take.mp3", demo_path.name]


def test_closing_the_window_while_separating_stops_the_worker(qtbot, settings, tmp_path, demo_audio,
                                                              null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache")
    long_song = write_wav(tmp_path / "four_times.wav", tiled(demo_audio, 4))
    with qtbot.waitSignal(window.queue.progressed, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(long_song)
    worker = window.queue._worker
    window.close()
    assert worker.isFinished(), "no thread outlives the window"
    assert window.cache.size_bytes() == 0


def test_time_left_follows_the_pace_so_far():
    assert TimeLeft().update(now=6.0, elapsed=6.0, done=2, total=5) == 9.0
    assert TimeLeft().update(now=1.0, elapsed=1.0, done=0, total=5) is None
    assert describe_time_left(-1.0) == ""
    assert describe_time_left(0.4) == "almost done"
    assert describe_time_left(8.2) == "about 9 s left"
    assert describe_time_left(200.0) == "about 4 min left"
