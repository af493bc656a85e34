"""Shared fixtures: the real model and the real demo song."""

import os
import resource
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

# Qt widgets in tests draw offscreen: no display is needed (or wanted).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from stemdesk.audio import decode
from stemdesk import DEMO_SONG
from stemdesk.catalogue import Catalogue
from stemdesk.models import DEFAULT_MODEL, user_model_dir
from stemdesk.separate import Separator


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory) -> Path:
    """The user's cache folder (optimised models, stems) is one of this test run's own."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


#: The user's own model folder, read before the tests hide it: where CI installs htdemucs.
USER_MODEL_DIR = user_model_dir()


@pytest.fixture(scope="session", autouse=True)
def own_data_folder(tmp_path_factory) -> Path:
    """The user's data folder (installed models) is one of this test run's own.

    A model the user installed (htdemucs, in CI too) would otherwise become the
    window's default model in every test; tests that want it use ``installed_htdemucs``.
    """
    folder = tmp_path_factory.mktemp("data")
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture(scope="session")
def installed_htdemucs():
    """The catalogue entry of the htdemucs the user installed (``stemdesk models install htdemucs``);
    the test skips where there is none or it cannot run."""
    entry = next((entry for entry in Catalogue([USER_MODEL_DIR]).entries() if entry.id == "htdemucs"), None)
    if entry is None or not entry.usable:
        pytest.skip(f"htdemucs is not installed and usable in {USER_MODEL_DIR} "
                    f"({entry.problem if entry else 'stemdesk models install htdemucs'})")
    return entry


@pytest.fixture(scope="session")
def demo_path() -> Path:
    return DEMO_SONG


@pytest.fixture(scope="session")
def demo_audio(demo_path):
    return decode(demo_path)


@pytest.fixture(scope="session")
def default_card():
    return Catalogue().get(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def short_segment_card(tmp_path_factory, default_card) -> Path:
    """The card path of the shipped Spleeter model cut to 128-frame segments: the same
    network, a quarter of the work for a file of a second or less (tests of what
    happens around a separation, not of its quality)."""
    from tests.hostile.batch import short_segment_model

    return short_segment_model(default_card.card_path, default_card.onnx_path,
                               tmp_path_factory.mktemp("short-segment-model"))


@pytest.fixture
def model_folder(tmp_path, default_card) -> Path:
    """A model folder of this test holding a copy of the default model; tests add presets to it."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(default_card.card_path, folder)
    shutil.copy(default_card.onnx_path, folder)
    return folder


@pytest.fixture(scope="session")
def separator(default_card):
    return Separator(default_card, device="cpu")


@pytest.fixture(scope="session")
def demo_stems(separator, demo_audio):
    return separator.separate(demo_audio)


@pytest.fixture
def file_size_limit():
    """``limit(size)`` makes writes beyond ``size`` bytes fail with EFBIG: a real OSError
    mid-write, as a full disk gives; restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Without this the kernel's SIGXFSZ would kill the test run instead of failing the write.
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


@contextmanager
def null_sound_output(folder: Path):
    """ALSA's default output is its null device inside the block, then undone.

    ALSA reads `$HOME/.asoundrc`, so HOME points at ``folder`` holding one (a
    user's real ~/.asoundrc is never touched), and PortAudio is re-initialised
    because it enumerates devices -- and ALSA reads its configuration -- when
    it starts, which may have happened on an earlier import. The null device
    has no clock: callbacks run back to back, faster than real time.
    """
    (folder / ".asoundrc").write_text("pcm.!default { type null }\n")
    real_home = os.environ.get("HOME")
    os.environ["HOME"] = str(folder)
    try:
        try:
            import sounddevice
        except OSError as error:
            pytest.skip(f"PortAudio is not installed: {error}")
        # Private, but the way sounddevice's maintainer gives for re-scanning
        # devices (python-sounddevice issue #125); there is no public one.
        sounddevice._terminate()
        sounddevice._initialize()
        yield
    finally:
        if real_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = real_home
    sounddevice._terminate()
    sounddevice._initialize()
