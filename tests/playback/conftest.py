"""Fixtures for playback tests: a real PortAudio output that needs no sound card."""

import os

import pytest


@pytest.fixture(scope="module")
def null_sound_output(tmp_path_factory):
    """Make ALSA's default output its null device for one test module, then undo it.

    ALSA reads `$HOME/.asoundrc`, so HOME points at a temporary folder holding one (a
    user's real ~/.asoundrc is never touched), and PortAudio is re-initialised because
    it enumerates devices -- and ALSA reads its configuration -- when it starts, which
    may have happened on an earlier import. The null device has no clock: callbacks run
    back to back, faster than real time. Module scope keeps the changed HOME away from
    other packages' tests.
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
    # Private, but the way sounddevice's maintainer gives for re-scanning devices
    # (python-sounddevice issue #125); there is no public one.
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
