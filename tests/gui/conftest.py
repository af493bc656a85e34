"""Fixtures for the window's tests: real Qt offscreen, the real model, a real PortAudio output.

Nothing here touches the user's own settings, cache or sound configuration:
QSettings go to an ini file under tmp_path, the stem cache to a temporary
folder, and ALSA's default output is its null device through a temporary HOME.
"""

import os
import shutil

import pytest
from PySide6.QtCore import QSettings

from stemdesk.gui.app import create_application
from stemdesk.stem_cache import StemCache
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window


@pytest.fixture(scope="session", autouse=True)
def themed_app(qapp):
    """The QApplication the window really gets (named, dark theme)."""
    return create_application()


@pytest.fixture(scope="session")
def null_sound_output(tmp_path_factory):
    """ALSA's default output is its null device for these tests, then undone.

    The same arrangement as tests/playback/conftest.py: HOME points at a folder
    holding an ``.asoundrc``, and PortAudio is re-initialised so that it reads it.
    The null device has no clock: callbacks run back to back.
    """
    home = tmp_path_factory.mktemp("alsa-home")
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")
    real_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        import sounddevice
    except OSError as exc:
        _restore_home(real_home)
        pytest.skip(f"PortAudio is not installed: {exc}")
    sounddevice._terminate()
    sounddevice._initialize()
    yield
    _restore_home(real_home)
    sounddevice._terminate()
    sounddevice._initialize()


def _restore_home(real_home):
    if real_home is None:
        del os.environ["HOME"]
    else:
        os.environ["HOME"] = real_home


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
    """``cached_window`` with the demo song open (from the cache)."""
    with qtbot.waitSignal(cached_window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        cached_window.open_song(demo_path)
    return cached_window
