"""The on-disk stem cache: exact round trips, keys, damaged entries, the size cap."""

import json
import os
import time

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.catalogue import Catalogue
from stemdesk.models import DEFAULT_MODEL
from stemdesk.stem_cache import MANIFEST, StemCache

RATE = 44_100


@pytest.fixture(scope="module")
def card():
    return Catalogue().get(DEFAULT_MODEL)


def noise_stems(seed: int, samples: int = 4_410) -> dict[str, Audio]:
    rng = np.random.default_rng(seed)
    return {
        "vocals": Audio(rng.uniform(-1, 1, (2, samples)), RATE),
        "accompaniment": Audio(rng.uniform(-1, 1, (2, samples)), RATE),
    }


def mixture_of(stems: dict[str, Audio]) -> Audio:
    return Audio(sum(audio.samples for audio in stems.values()), RATE)


def key_for(seed: int, card) -> str:
    return StemCache.key(mixture_of(noise_stems(seed)), card)


def assert_same_stems(loaded, stored):
    assert list(loaded) == list(stored)
    for name in stored:
        assert loaded[name].rate == stored[name].rate
        assert loaded[name].samples.dtype == np.float32
        np.testing.assert_array_equal(loaded[name].samples, stored[name].samples)


def test_round_trip_is_bit_exact_and_keeps_stem_order(tmp_path, card):
    cache = StemCache(tmp_path)
    stems = noise_stems(0)
    key = key_for(0, card)

    assert cache.load(key) is None
    assert cache.store(key, stems)

    assert_same_stems(cache.load(key), stems)
    # A second cache object on the same folder (the next run of the app) sees it too.
    assert_same_stems(StemCache(tmp_path).load(key), stems)


def test_key_depends_on_every_sample_the_rate_and_the_model(card):
    mixture = mixture_of(noise_stems(0))
    key = StemCache.key(mixture, card)
    nudged = mixture.samples.copy()
    nudged[1, 1234] = np.nextafter(nudged[1, 1234], np.float32(2))

    assert StemCache.key(Audio(mixture.samples.copy(), RATE), card) == key
    assert StemCache.key(Audio(nudged, RATE), card) != key
    assert StemCache.key(Audio(mixture.samples, 48_000), card) != key
    for changed in ({"version": card.version + ".1"}, {"id": "other-model"}, {"sha256": "0" * 64},
                    {"segment_frames": card.segment_frames // 2}, {"mask_power": 1.0}):
        assert StemCache.key(mixture, card.model_copy(update=changed)) != key, changed
    # What only describes the model does not change its stems.
    assert StemCache.key(mixture, card.model_copy(update={"name": "Renamed", "license": "other"})) == key


def test_key_changes_with_the_engine_revision(card, monkeypatch):
    mixture = mixture_of(noise_stems(0))
    key = StemCache.key(mixture, card)
    monkeypatch.setattr("stemdesk.stem_cache.ENGINE_REVISION", 2)
    assert StemCache.key(mixture, card) != key


def truncate_first_array(entry):
    array = entry / "0.npy"
    array.write_bytes(array.read_bytes()[:-100])


def delete_second_array(entry):
    (entry / "1.npy").unlink()


def garble_manifest(entry):
    (entry / MANIFEST).write_text("{not json")


def flip_one_sample(entry):
    # Same size, valid header: only the checksum can tell.
    array = entry / "1.npy"
    data = bytearray(array.read_bytes())
    data[-5] ^= 0x40
    array.write_bytes(bytes(data))


def list_a_wrong_shape(entry):
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest["stems"][0]["shape"] = [1, 8_820]
    (entry / MANIFEST).write_text(json.dumps(manifest))


def point_a_stem_outside(entry):
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest["stems"][0]["file"] = "../../elsewhere.npy"
    (entry / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "damage",
    [truncate_first_array, delete_second_array, garble_manifest, flip_one_sample, list_a_wrong_shape,
     point_a_stem_outside],
)
def test_damaged_entry_is_a_miss_and_is_removed(tmp_path, card, damage, caplog):
    cache = StemCache(tmp_path)
    stems = noise_stems(0)
    key = key_for(0, card)
    cache.store(key, stems)
    damage(tmp_path / key)

    assert cache.load(key) is None

    assert not (tmp_path / key).exists()
    assert "damaged" in caplog.text
    # The caller separates again and stores; the entry is good again.
    cache.store(key, stems)
    assert_same_stems(cache.load(key), stems)


def test_size_cap_evicts_the_least_recently_used_entry(tmp_path, card):
    first = StemCache(tmp_path)
    first.store(key_for(0, card), noise_stems(0))
    entry_bytes = first.size_bytes()
    cache = StemCache(tmp_path, max_bytes=int(2.5 * entry_bytes))
    cache.store(key_for(1, card), noise_stems(1))
    # Loading the older entry makes the other one the least recently used.
    assert cache.load(key_for(0, card)) is not None

    cache.store(key_for(2, card), noise_stems(2))

    assert cache.load(key_for(1, card)) is None
    assert cache.load(key_for(0, card)) is not None
    assert cache.load(key_for(2, card)) is not None
    assert 1.9 * entry_bytes < cache.size_bytes() <= cache.max_bytes


def test_entry_larger_than_the_cap_is_not_stored(tmp_path, card):
    cache = StemCache(tmp_path, max_bytes=10_000)
    key = key_for(0, card)

    assert not cache.store(key, noise_stems(0))

    assert cache.load(key) is None
    assert cache.size_bytes() == 0


def test_clear_empties_the_cache(tmp_path, card):
    cache = StemCache(tmp_path / "stems")
    assert cache.size_bytes() == 0
    for seed in (0, 1):
        cache.store(key_for(seed, card), noise_stems(seed))
    assert cache.size_bytes() > 2 * 2 * noise_stems(0)["vocals"].samples.nbytes

    cache.clear()

    assert cache.size_bytes() == 0
    assert cache.load(key_for(0, card)) is None
    assert cache.load(key_for(1, card)) is None


def test_store_into_an_unusable_folder_returns_false_without_raising(tmp_path, card):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    cache = StemCache(tmp_path / "cache" / "stems")

    assert not cache.store(key_for(0, card), noise_stems(0))
    assert cache.load(key_for(0, card)) is None


def test_a_store_failing_midway_leaves_no_entry_and_no_temporary_folder(tmp_path, card, file_size_limit):
    cache = StemCache(tmp_path)
    key = key_for(0, card)
    file_size_limit(100_000)  # below one stem's 352,800 bytes: the first .npy is cut short

    assert not cache.store(key, noise_stems(0, samples=44_100))

    assert os.listdir(tmp_path) == []
    assert cache.load(key) is None


def test_store_removes_temporary_folders_left_by_a_crash(tmp_path, card):
    cache = StemCache(tmp_path)
    crashed = tmp_path / ".incoming-0123-dead"
    crashed.mkdir()
    (crashed / "0.npy").write_bytes(b"half an array")
    two_hours_ago = time.time() - 7200
    os.utime(crashed, (two_hours_ago, two_hours_ago))
    running = tmp_path / ".incoming-4567-beef"
    running.mkdir()

    cache.store(key_for(0, card), noise_stems(0))

    assert not crashed.exists()
    assert running.exists()


def test_keys_that_are_not_cache_keys_are_refused(tmp_path):
    cache = StemCache(tmp_path)
    with pytest.raises(ValueError):
        cache.load("../../home")
    with pytest.raises(ValueError):
        cache.store("0" * 31 + "/", noise_stems(0))


def _anonymous_rss_bytes() -> int:
    """This process's private resident memory (heap, not file-backed pages)."""
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_loaded_stems_are_memory_mapped_and_the_mixer_plays_them(tmp_path, card):
    from stemdesk.playback import Mixer

    two_minutes = 120 * RATE
    stems = noise_stems(7, samples=two_minutes)  # 2 x 42 MB
    cache = StemCache(tmp_path / "cache")
    key = key_for(7, card)
    assert cache.store(key, stems)
    expected = Mixer({name: audio.samples for name, audio in stems.items()}, RATE)
    mix = expected.mix(expected.state, 0, 3 * RATE)
    del stems
    before = _anonymous_rss_bytes()
    loaded = cache.load(key)
    assert _anonymous_rss_bytes() - before < 16 * 2**20  # read through, but not copied into RAM
    for audio in loaded.values():
        assert isinstance(audio.samples.base, np.memmap) and not audio.samples.flags.writeable
    mixer = Mixer({name: audio.samples for name, audio in loaded.items()}, RATE)
    np.testing.assert_array_equal(mixer.mix(mixer.state, 0, 3 * RATE), mix)
    block = np.zeros((1024, 2), np.float32)
    mixer.render(block)
    np.testing.assert_array_equal(block.T, mix[:, :1024])
