"""Fixtures for playback tests: a real PortAudio output that needs no sound card."""

import pytest

from tests.conftest import null_sound_output as null_output


@pytest.fixture(scope="module")
def null_sound_output(tmp_path_factory):
    """ALSA's null device as default output for one test module (module scope keeps
    the changed HOME away from other packages' tests)."""
    with null_output(tmp_path_factory.mktemp("alsa-home")):
        yield
