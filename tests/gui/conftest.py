"""Fixtures for the window's tests: real Qt offscreen, the real model, a real PortAudio output.

Nothing here touches the user's own settings, cache or sound configuration:
QSettings go to an ini file under tmp_path, the stem cache to a temporary
folder, and ALSA's default output is its null device through a temporary HOME.
"""

import shutil

import pytest
from PySide6.QtCore import QSettings

from stemdesk.gui.app import create_application
from stemdesk.stem_cache import StemCache
from tests.conftest import null_sound_output as null_output
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window


@pytest.fixture(scope="session", autouse=True)
def themed_app(qapp):
    """The QApplication the window really gets (named, dark theme)."""
    return create_application()


@pytest.fixture(scope="session")
def null_sound_output(tmp_path_factory):
    """ALSA's null device as default output for the window's tests."""
    with null_output(tmp_path_factory.mktemp("alsa-home")):
        yield


@pytest.fixture(scope="session")
def filled_cache_root(tmp_path_factory, demo_audio, demo_stems, default_card):
    """A stem cache holding the demo song's separation, made once per test session.

    Tests that are not about separating start from a copy of it, so opening the
    demo is a cache hit and takes a fraction of a second.
    """
    root = tmp_path_factory.mktemp("filled-cache")
    cache = StemCache(root)
    assert cache.store(cache.key(demo_audio, default_card), demo_stems)
    return root


@pytest.fixture
def settings(tmp_path):
    """QSettings in an ini file of this test only."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def cached_window(qtbot, settings, tmp_path, filled_cache_root, null_sound_output):
    """A window whose stem cache already holds the demo song, playing to the null device."""
    cache_root = tmp_path / "cache"
    shutil.copytree(filled_cache_root, cache_root)
    window = make_window(qtbot, settings, cache_root)
    yield window
    window.close()


@pytest.fixture
def demo_window(cached_window, qtbot, demo_path):
    """``cached_window`` with the demo song open (from the cache) and its beat analysis done.

    Waiting for the analysis keeps it from competing with what a test times or drags.
    """
    with qtbot.waitSignal(cached_window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        cached_window.open_song(demo_path)
    qtbot.waitUntil(lambda: any(cached_window.views.activity.values()), timeout=SEPARATION_TIMEOUT_MS)
    return cached_window
