"""A Demucs v4 (hybrid) song plays in the window from its first segment on, and the model can be opened ahead."""

import numpy as np
import pytest

from stemdesk.catalogue import Catalogue
from tests.gui.first_sound import play_as_soon_as_shown
from tests.gui.song_files import tiled, write_wav
from tests.gui.test_separation import drop_files
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

pytest.importorskip("demucs")

from tests.training.conftest import tiny_hybrid, tiny_hybrid_folder  # noqa: E402, F401 - fixtures


class CountingCatalogue(Catalogue):
    """The real catalogue, counting the separators it opens."""

    def __init__(self, dirs):
        super().__init__(dirs)
        self.opened = []

    def open(self, model, **kwargs):
        separator = super().open(model, **kwargs)
        self.opened.append(separator)
        return separator


@pytest.fixture
def hybrid_window(qtbot, settings, tmp_path, tiny_hybrid_folder, null_sound_output):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=CountingCatalogue([tiny_hybrid_folder]),
                         model_id="tiny-hybrid")
    yield window
    window.close()


def test_a_hybrid_song_plays_its_separated_stems_before_separation_ends(hybrid_window, qtbot, tmp_path, demo_audio):
    window = hybrid_window
    song = write_wav(tmp_path / "song.wav", tiled(demo_audio, 3))  # 33 s: 44 segments of the 1 s model
    probes = play_as_soon_as_shown(window, "vocals")
    assert drop_files(window, [song])
    # Real PortAudio callbacks on the null device: the soloed stem, sample for
    # sample, is heard while separation is still under way.
    qtbot.waitUntil(lambda: bool(probes) and probes[0].at is not None, timeout=SEPARATION_TIMEOUT_MS)
    growing = window.song.growing
    assert growing is not None and window.song.session.card.id == "tiny-hybrid"
    assert 0 < probes[0].frontier_then < growing.length
    assert window.transport.is_playing
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        pass
    assert growing.complete and window.song.growing is None
    stems = window.song.session.stems
    plain = window.repo.opened[0].separate(growing.mixture)
    for name in stems:
        np.testing.assert_array_equal(stems[name].samples, plain[name].samples)
    np.testing.assert_allclose(sum(stem.samples for stem in stems.values()), growing.mixture.samples, atol=1e-5)


def test_the_model_opened_ahead_is_the_one_the_first_song_uses(hybrid_window, qtbot, tmp_path, demo_audio):
    window = hybrid_window
    window.queue.prepare()
    window.queue.prepare()  # asked twice: opened once
    song = write_wav(tmp_path / "song.wav", tiled(demo_audio, 1))
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        assert drop_files(window, [song])  # likely while the model is still opening
    assert len(window.repo.opened) == 1
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(write_wav(tmp_path / "other.wav", tiled(demo_audio, 2)))
    assert len(window.repo.opened) == 1


def test_a_model_that_cannot_be_opened_ahead_is_reported_by_the_song(qtbot, settings, tmp_path, null_sound_output,
                                                                    demo_audio):
    window = make_window(qtbot, settings, tmp_path / "cache", repo=Catalogue([tmp_path / "no-models"]),
                         model_id="tiny-hybrid")
    window.queue.prepare()
    failures = []
    window.queue.failed.connect(lambda path, message: failures.append(message))
    with qtbot.waitSignal(window.queue.failed, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(write_wav(tmp_path / "song.wav", tiled(demo_audio, 1)))
    assert len(failures) == 1 and "tiny-hybrid" in failures[0] and "\n" not in failures[0]
    window.close()
