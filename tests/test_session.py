"""Opening a song: decode, separate with the real model, and reopen from the disk cache."""

import os

import numpy as np
import pytest

from stemdesk import PROJECT_ROOT
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.errors import StemdeskError
from stemdesk.catalogue import Catalogue
from stemdesk.models import DEFAULT_MODEL
from stemdesk.separate import Separator
from stemdesk.session import decode_song, open_song, separate_song
from stemdesk.stem_cache import StemCache

DEMO = PROJECT_ROOT / "resources" / "demo" / "audio_example.mp3"


class ProgressLog:
    """A progress callback that remembers its calls."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


@pytest.fixture(scope="module")
def separator():
    return Separator(Catalogue().get(DEFAULT_MODEL), device="cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return StemCache(tmp_path_factory.mktemp("stem-cache"))


@pytest.fixture(scope="module")
def opened_twice(separator, cache):
    """The demo opened with an empty cache, then again; with each open's progress calls."""
    first_progress, second_progress = ProgressLog(), ProgressLog()
    first = open_song(DEMO, separator, cache, progress=first_progress)
    second = open_song(DEMO, separator, cache, progress=second_progress)
    return first, first_progress, second, second_progress


def test_first_open_separates_the_demo_into_the_models_stems(opened_twice, separator):
    first, progress, _, _ = opened_twice

    assert not first.from_cache
    assert first.path == DEMO and first.title == "audio_example"
    assert first.card is separator.card
    assert list(first.stems) == ["vocals", "accompaniment"]
    assert progress.calls and progress.calls[-1][0] == progress.calls[-1][1] > 0
    for stem in first.stems.values():
        assert stem.rate == first.mixture.rate == 44_100
        assert stem.samples.shape == first.mixture.samples.shape
    summed = sum(stem.samples for stem in first.stems.values())
    np.testing.assert_allclose(summed, first.mixture.samples, atol=1e-5)
    # Real separation, not a split in halves: the parts differ clearly.
    vocals, accompaniment = (first.stems[name].samples for name in ("vocals", "accompaniment"))
    assert np.abs(vocals - accompaniment).mean() > 0.1 * np.abs(first.mixture.samples).mean()


def test_second_open_is_a_cache_hit_with_identical_stems(opened_twice, cache):
    first, _, second, progress = opened_twice

    assert second.from_cache
    assert progress.calls == []  # the separator never ran
    assert list(second.stems) == list(first.stems)
    for name, stem in first.stems.items():
        assert second.stems[name].rate == stem.rate
        np.testing.assert_array_equal(second.stems[name].samples, stem.samples)
    assert cache.size_bytes() >= sum(stem.samples.nbytes for stem in first.stems.values())


def test_a_damaged_cache_entry_is_separated_again_and_replaced(opened_twice, separator, cache):
    first = opened_twice[0]
    entry = cache.root / cache.key(first.mixture, separator.card)
    # A new file in its place, as a crashed store leaves one: `first`'s stems
    # still map the old one (truncating a mapped file in place would be SIGBUS).
    (entry / "damaged.npy").write_bytes(b"\x93NUMPY garbage")
    os.replace(entry / "damaged.npy", entry / "0.npy")

    progress = ProgressLog()
    recomputed = open_song(DEMO, separator, cache, progress=progress)

    assert not recomputed.from_cache and progress.calls
    for name, stem in first.stems.items():
        np.testing.assert_allclose(recomputed.stems[name].samples, stem.samples, atol=1e-6)
    assert open_song(DEMO, separator, cache).from_cache


def test_decode_first_then_separate(opened_twice, separator, cache):
    song = decode_song(DEMO)
    assert not song.separated and song.stems is None and song.card is None
    np.testing.assert_array_equal(song.mixture.samples, opened_twice[0].mixture.samples)

    separated = separate_song(song, separator, cache)

    assert separated.separated and not song.separated  # sessions are values: the first is unchanged
    progress = ProgressLog()
    assert separate_song(separated, separator, cache, progress=progress) is separated
    assert progress.calls == []


def test_cancel_raises_and_stores_nothing(separator, tmp_path):
    cache = StemCache(tmp_path / "cache")
    cancel = CancelToken()
    cancel.cancel()

    with pytest.raises(Cancelled):
        open_song(DEMO, separator, cache, cancel=cancel)

    assert cache.size_bytes() == 0


def test_a_file_that_is_not_audio_is_a_one_line_error(separator, tmp_path):
    not_audio = tmp_path / "notes.mp3"
    not_audio.write_text("these are my practice notes, not a song\n" * 20)

    with pytest.raises(StemdeskError) as error:
        open_song(not_audio, separator, StemCache(tmp_path / "cache"))

    assert "notes.mp3" in str(error.value) and "\n" not in str(error.value)


def test_a_long_song_can_be_played_from_its_first_chunk_on(separator, tmp_path):
    from dataclasses import replace

    from stemdesk.audio import Audio

    demo = decode_song(DEMO)
    song = replace(demo, mixture=Audio(np.tile(demo.mixture.samples, 4), demo.mixture.rate))  # 44 s: 4 chunks
    seen = []

    def on_growing(growing):
        seen.append((growing.frontier, growing.length, growing.buffer[:, :, : growing.frontier].copy(), growing))

    separated = separate_song(song, separator, StemCache(tmp_path / "cache"), on_growing=on_growing)
    [(frontier, length, early, growing)] = seen
    assert 0 < frontier < length == song.mixture.num_samples
    assert growing.complete
    plain = separator.separate(song.mixture)
    for index, name in enumerate(separator.stems):
        # The same stems as a plain separation, and the early part was already final.
        np.testing.assert_array_equal(separated.stems[name].samples, plain[name].samples)
        np.testing.assert_array_equal(early[index], plain[name].samples[:, :frontier])
    # One chunk is the whole demo: done at once, nothing to play early.
    seen.clear()
    separate_song(decode_song(DEMO), separator, None, on_growing=on_growing)
    assert seen == []


def test_stems_of_an_older_engine_are_separated_again_not_served(separator, tmp_path, monkeypatch):
    cache = StemCache(tmp_path)
    song = decode_song(DEMO)
    first = separate_song(song, separator, cache)
    assert separate_song(decode_song(DEMO), separator, cache).from_cache
    monkeypatch.setattr("stemdesk.stem_cache.ENGINE_REVISION", 10**6)
    again = separate_song(decode_song(DEMO), separator, cache, progress=(progress := ProgressLog()))
    assert not again.from_cache and progress.calls
    assert tuple(again.stems) == tuple(first.stems)
