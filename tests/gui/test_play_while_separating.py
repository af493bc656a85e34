"""Playing a song in the window while it is being separated: first sound within 5 s of the drop."""

import os
import time

import numpy as np
import pytest

from tests.gui.first_sound import play_as_soon_as_shown
from tests.gui.song_files import tiled, write_wav
from tests.gui.test_separation import drop_files
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

# The bound, on this CPU, from the drop to separated sound; measured on
# a quiet machine by benchmarks/bench_first_sound.py. Here, with the cores
# shared by whatever else runs, the window's own part is held to a bound: sound
# within this long of the first chunk being done.
FIRST_SOUND_SECONDS = 5.0
WINDOW_LATENCY_SECONDS = 1.5


@pytest.fixture
def window(qtbot, settings, tmp_path, null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache")
    yield window
    window.close()


def test_first_sound_within_five_seconds_of_the_drop_and_the_song_fills_in(window, qtbot, tmp_path, demo_audio):
    song = write_wav(tmp_path / "long song.wav", tiled(demo_audio, 18))  # 3.3 minutes, a cache miss
    # What a musician does the moment the song appears: solo the voice, press play.
    probes = play_as_soon_as_shown(window, "vocals")
    progress = []
    window.queue.progressed.connect(lambda done, total, left: progress.append(done))
    dropped = time.perf_counter()
    assert drop_files(window, [song])
    qtbot.waitUntil(lambda: bool(probes) and probes[0].at is not None, timeout=SEPARATION_TIMEOUT_MS)
    first_sound, latency = probes[0].at - dropped, probes[0].at - probes[0].shown_at
    print(f"first separated sound {first_sound:.2f} s after the drop, {latency * 1000:.0f} ms after the song"
          f" was shown (load average {os.getloadavg()[0]:.1f})")
    assert latency <= WINDOW_LATENCY_SECONDS
    if os.getloadavg()[0] < 1.5:  # a quiet machine: the bound holds from the drop
        assert first_sound <= FIRST_SOUND_SECONDS
    # Shown after the first chunk, long before the last one.
    assert progress and progress[-1] < 4

    # The views show how far separation has got, and the rest fills in while it plays.
    growing = window.song.growing
    assert growing is not None and not growing.complete
    assert 0 < window.views.frontier < window.views.picture.duration
    assert not window.actions["export"].isEnabled()
    transport_mixer = window.transport.mixer
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        pass
    assert growing.complete and window.song.growing is None
    assert window.views.frontier is None and window.actions["export"].isEnabled()
    assert window.transport.mixer is transport_mixer  # never reloaded under the musician
    stems = window.song.session.stems
    np.testing.assert_allclose(sum(stem.samples for stem in stems.values()), growing.mixture.samples, atol=1e-5)
    np.testing.assert_array_equal(stems["vocals"].samples, growing.buffer[0])
