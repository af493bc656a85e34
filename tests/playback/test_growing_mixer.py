"""Playing a song while it is separated: stems up to the frontier, the song itself beyond."""

import threading

import numpy as np
import pytest

from stemdesk.audio import Audio
from stemdesk.growing_stems import GrowingStems
from stemdesk.playback import Mixer

RATE = 44_100


def song_and_stems(length=20_000):
    rng = np.random.default_rng(5)
    vocals = rng.uniform(-0.5, 0.5, (2, length)).astype(np.float32)
    rest = rng.uniform(-0.5, 0.5, (2, length)).astype(np.float32)
    return Audio(vocals + rest, RATE), np.stack([vocals, rest])


def growing_mixer(mixture):
    growing = GrowingStems(("vocals", "rest"), mixture)
    return growing, Mixer(growing.stems, RATE, growing=growing)


def test_before_any_span_the_song_plays_whatever_the_mute_and_solo():
    mixture, _ = song_and_stems()
    growing, mixer = growing_mixer(mixture)
    mixer.state = mixer.state.with_solo("vocals").with_master(-6.0)
    mixer.render(np.zeros((64, 2), np.float32))  # the first block fades in
    block = np.zeros((1024, 2), np.float32)
    mixer.render(block)
    np.testing.assert_allclose(block.T, mixture.samples[:, 64:1088] * 10 ** (-6 / 20), rtol=1e-6)
    np.testing.assert_allclose(mixer.mix(mixer.state, 0, 100), mixture.samples[:, :100] * 10 ** (-6 / 20), rtol=1e-6)


def test_a_block_across_the_frontier_is_stems_then_song():
    mixture, stems = song_and_stems()
    growing, mixer = growing_mixer(mixture)
    growing.buffer[:, :, :5000] = stems[:, :, :5000]
    growing.on_span(0, growing.buffer[:, :, :5000])
    mixer.state = mixer.state.with_solo("vocals")
    mixer.seek(4000)
    mixer.fade_in()
    mixer.render(np.zeros((1, 2), np.float32))  # ramps settle after one block
    mixer.seek(4000)
    block = np.zeros((2000, 2), np.float32)
    mixer.render(block)
    np.testing.assert_array_equal(block[:1000].T, stems[0, :, 4000:5000])  # vocals alone: separated
    np.testing.assert_array_equal(block[1000:].T, mixture.samples[:, 5000:6000])  # not yet: the song
    expected = np.concatenate([stems[0, :, 4000:5000], mixture.samples[:, 5000:6000]], axis=1)
    np.testing.assert_array_equal(mixer.mix(mixer.state, 4000, 6000), expected)


def test_spans_arriving_on_another_thread_never_tear_a_block():
    """Each block is the separated solo up to some point, then the song: never a mix of both."""
    mixture, stems = song_and_stems(length=384_000)
    growing, mixer = growing_mixer(mixture)
    mixer.state = mixer.state.with_solo("vocals")
    mixer.render(np.zeros((1, 2), np.float32))
    mixer.seek(0)

    def separate():
        for start in range(0, 384_000, 1000):
            growing.buffer[:, :, start : start + 1000] = stems[:, :, start : start + 1000]
            growing.on_span(start, growing.buffer[:, :, start : start + 1000])

    writer = threading.Thread(target=separate)
    writer.start()
    block = np.zeros((256, 2), np.float32)
    position = 0
    while position < 384_000:
        mixer.render(block)
        solo = stems[0, :, position : position + 256].T
        song = mixture.samples[:, position : position + 256].T
        is_solo = np.all(block == solo, axis=1)
        is_song = np.all(block == song, axis=1)
        assert np.all(is_solo | is_song)
        # Separated first, then the song: the split is the frontier read for this block.
        split = int(np.argmin(is_solo)) if not is_solo.all() else 256
        assert is_song[split:].all()
        position += 256
    writer.join()
    assert growing.complete


def test_a_span_that_does_not_continue_the_frontier_is_refused():
    mixture, stems = song_and_stems()
    growing = GrowingStems(("vocals", "rest"), mixture)
    with pytest.raises(ValueError, match="frontier"):
        growing.on_span(100, stems[:, :, 100:200])
    growing.on_span(0, stems[:, :, :200])  # copied in: not a view of the buffer
    np.testing.assert_array_equal(growing.buffer[:, :, :200], stems[:, :, :200])
    assert growing.frontier == 200
