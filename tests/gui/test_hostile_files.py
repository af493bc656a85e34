"""Hostile files dropped on the window: a banner for each, the window stays responsive, the queue goes on."""

import time

from PySide6.QtCore import QTimer

from tests.gui.windows import SEPARATION_TIMEOUT_MS
from tests.hostile.corpus import CASES

BAD = ["random-bytes-m4a", "mp3-header-only", "nan-samples", "three-channels", "zero-samples", "rate-384000",
       "mp4-video-without-audio", "text-as-wav"]
# A cut file still opens (from the part that could be read), and so does the song after it.
GOOD = ["wav-truncated-half", "unicode-name"]


def test_a_queue_of_hostile_files_fails_each_in_the_banner_and_opens_the_good_ones(demo_window, qtbot, tmp_path):
    window = demo_window
    cases = {case.id: case for case in CASES}
    paths = {name: cases[name].make(tmp_path) for name in BAD + GOOD}
    failures, opened = [], []
    window.queue.failed.connect(lambda path, message: failures.append((path, message, window.banner.text)))
    shown = []
    window.queue.song_ready.connect(lambda loaded: opened.append(loaded.session.path))
    window.song_shown.connect(lambda loaded: shown.append((loaded.session.path, window.banner.level,
                                                           window.banner.text)))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)

    for path in paths.values():
        window.open_song(path)
    qtbot.waitUntil(lambda: len(opened) == len(GOOD), timeout=SEPARATION_TIMEOUT_MS)
    timer.stop()

    assert [path for path, _, _ in failures] == [paths[name] for name in BAD], "one failure per bad file, in order"
    for path, message, banner in failures:
        assert path.name in banner and "\n" not in banner and "Traceback" not in banner, banner
    assert opened == [paths[name] for name in GOOD]
    qtbot.waitUntil(lambda: len(shown) == len(GOOD))
    (cut_path, level, text), (unicode_path, _, unicode_text) = shown
    assert level == "warning" and "ends early" in text and cut_path.name in text, "a cut file is said to be cut"
    assert unicode_path.name not in unicode_text, "no warning about the whole file"
    assert window.banner.level in ("info", "error", "warning")
    # Decoding and failing happen on the worker thread: the event loop kept ticking.
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:])]
    assert len(ticks) > 20 and max(gaps) < 0.5, max(gaps)
    assert window.song is not None and window.play_action.isEnabled() and window.open_action.isEnabled()
