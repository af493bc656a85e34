"""The hybrid engine reads a song twice (its statistics, then its segments) instead of holding it.

A file is decoded again for the second reading; a song that cannot be read
again (an iterator) is held, as before. Either way the stems are the same
floats, and a song that changes between the readings is refused in one line.
"""

import os
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf

from stemdesk.audio import decode, resample
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.errors import StemdeskError
from stemdesk.hybrid import HybridSeparator, song_statistics
from stemdesk.streamed_stems import separate_file_streamed

pytest.importorskip("demucs")

from tests.training.test_hybrid_engine import song  # noqa: E402
from tests.training.test_hybrid_spans import hybrid_then_mask_preset, with_shifts  # noqa: E402, F401

BLOCK = 65536


def read(path) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0].T


def write_song(path, seconds: float, rate: int = 44100, channels: int = 2) -> np.ndarray:
    """A float WAV of the demo tiled to ``seconds``; its samples ``(channels, n)`` as decoded."""
    samples = song(seconds, rate=rate, channels=channels).samples
    sf.write(path, samples.T, rate, subtype="FLOAT")
    return decode(path).samples


class Readings:
    """A song that can be read again: each reading makes its blocks afresh, none kept; counts them."""

    def __init__(self, seconds: float):
        self.tile = song(10.0).samples
        self.length = int(seconds * 44100)
        self.started = 0
        self.blocks_read = 0

    def __call__(self) -> Iterator[np.ndarray]:
        self.started += 1
        return self._blocks()

    def _blocks(self) -> Iterator[np.ndarray]:
        for start in range(0, self.length, BLOCK):
            self.blocks_read += 1
            # A new array each time, as a decoder makes it.
            yield np.take(self.tile, np.arange(start, min(start + BLOCK, self.length)) % self.tile.shape[1], axis=1)

    @property
    def nbytes(self) -> int:
        return 2 * self.length * 4


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (48000, 2), (22050, 1)])
def test_the_statistics_of_a_reading_are_the_one_shot_ones_at_the_cards_rate(tiny_hybrid, rate, channels):
    card = tiny_hybrid.card
    audio = song(7.3, rate=rate, channels=channels)
    cuts = [0, 1, 3000, 70_000, 70_001, audio.num_samples]
    statistics = song_statistics((audio.samples[:, a:b] for a, b in zip(cuts, cuts[1:])), rate, card)
    at_card_rate = resample(audio, card.sample_rate).samples
    reference = np.repeat(at_card_rate, 2 // channels, axis=0).mean(axis=0)
    assert statistics.channels == channels and statistics.length == reference.size
    assert statistics.mean == pytest.approx(reference.mean(dtype=np.float64), rel=1e-12)
    assert statistics.std - 1e-8 == pytest.approx(reference.std(ddof=1, dtype=np.float64), rel=1e-12)
    # The one-shot float32 ones the engine took before, to float32's precision.
    assert np.float32(statistics.mean) == pytest.approx(reference.mean(), rel=1e-5)
    assert np.float32(statistics.std) == pytest.approx(reference.std(ddof=1), rel=1e-6)


@pytest.mark.parametrize(("rate", "channels", "shifts"), [(44100, 2, 0), (48000, 2, 0), (22050, 1, 2)])
def test_stems_of_a_file_read_twice_are_the_whole_song_pass(tiny_hybrid, tmp_path, rate, channels, shifts):
    separator = HybridSeparator(with_shifts(tiny_hybrid.card, shifts), "cpu")
    path = tmp_path / "song.wav"
    samples = write_song(path, 3.3, rate, channels)
    progress = []
    separate_file_streamed(separator, path, tmp_path / "out", subtype="FLOAT",
                           progress=lambda done, total: progress.append((done, total)))
    whole = separator.separate(decode(path))
    stems = np.stack([read(tmp_path / "out" / "song" / f"{name}.wav") for name in separator.stems])
    np.testing.assert_array_equal(stems, np.stack([stem.samples for stem in whole.values()]))
    np.testing.assert_allclose(stems.sum(axis=0), samples, atol=1e-5)
    total = progress[-1][1]
    assert progress[0] == (0, total) and progress[-1] == (total, total) and total > 1
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_stream_reads_a_rereadable_song_twice_and_an_iterator_once(tiny_hybrid):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    readings = Readings(4.0)
    spans = list(separator.stream(readings(), 44100, reread=readings))
    assert readings.started == 2
    assert readings.blocks_read == 2 * -(-readings.length // BLOCK)
    once = Readings(4.0)
    held = list(separator.stream(once(), 44100))
    assert once.started == 1
    for (start, span), (held_start, held_span) in zip(spans, held, strict=True):
        assert start == held_start
        np.testing.assert_array_equal(span, held_span)


def test_a_song_read_twice_is_not_held_and_an_iterator_is(tiny_hybrid):
    """tracemalloc's peak (numpy's arrays, not ONNX Runtime's), as the song gets four times longer.

    Read twice, the peak is a segment's spectrograms and the blocks in flight,
    whatever the length; an iterator's blocks are held until the end, a byte
    per byte of song. One segment at a time, so that the peak does not depend
    on how two in flight happen to overlap.
    """
    separator = HybridSeparator(tiny_hybrid.card, "cpu", workers=1)

    def growth(rereadable: bool) -> float:
        peaks = []
        for seconds in (12.0, 48.0):
            readings = Readings(seconds)
            tracemalloc.start()
            try:
                spans = separator.stream(readings(), 44100, reread=readings if rereadable else None)
                handed_out = sum(span.shape[-1] for _, span in spans)
                peaks.append((tracemalloc.get_traced_memory()[1], readings.nbytes))
            finally:
                tracemalloc.stop()
            assert handed_out == readings.length
        (short_peak, short_size), (long_peak, long_size) = peaks
        return (long_peak - short_peak) / (long_size - short_size)

    read_twice, held = growth(True), growth(False)
    assert read_twice < 0.05, f"{read_twice:.2f} bytes more at the peak per byte of song"
    assert held > 0.9, f"{held:.2f}: the held song should show"


def test_cancel_during_the_first_reading_stops_before_the_second(tiny_hybrid):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    readings = Readings(6.0)
    token = CancelToken()

    def cancelled_after_one_block():
        for index, block in enumerate(readings()):
            if index == 1:
                token.cancel()
            yield block

    second = readings()
    with pytest.raises(Cancelled):
        list(separator.stream(second, 44100, cancel=token, reread=cancelled_after_one_block))
    assert readings.blocks_read == 2  # the first reading stopped, the second never started


@pytest.mark.parametrize("changed_by", [-5000, 3], ids=["shorter", "longer"])
def test_a_song_whose_second_reading_differs_is_refused(tiny_hybrid, changed_by):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    changed = Readings(3.0)
    changed.length += changed_by
    with pytest.raises(StemdeskError, match="changed while it was being separated") as error:
        list(separator.stream(changed(), 44100, reread=Readings(3.0)))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("change", ["rewritten", "replaced-shorter"])
def test_a_file_changed_between_the_readings_is_refused_and_leaves_nothing(tiny_hybrid, tmp_path, change):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    path = tmp_path / "song.wav"
    samples = write_song(path, 3.0)
    out = tmp_path / "out"

    def change_the_file(done, total):
        # The first progress report comes once the statistics are taken, before the segments' reading.
        if done == 0:
            before = os.stat(path)
            if change == "rewritten":
                sf.write(path, (samples[:, ::-1] * np.float32(0.5)).T, 44100, subtype="FLOAT")
                # As a later write's clock would: the test may run within one tick of the first write.
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
            else:
                sf.write(path, samples[:, : samples.shape[1] // 2].T, 44100, subtype="FLOAT")

    with pytest.raises(StemdeskError, match="it changed while it was being read") as error:
        separate_file_streamed(separator, path, out, progress=change_the_file)
    assert "\n" not in str(error.value)
    assert not out.exists() or not any(out.iterdir())


def test_a_preset_hands_the_second_reading_to_its_hybrid_first_step(hybrid_then_mask_preset, tmp_path):
    from stemdesk.catalogue import Catalogue

    separator = Catalogue([hybrid_then_mask_preset]).open("hybrid-band", device="cpu")
    readings = Readings(3.0)
    spans = list(separator.stream(readings(), 44100, reread=readings))
    assert readings.started == 2  # the hybrid step's statistics, then the song once through the chain
    path = tmp_path / "song.wav"
    write_song(path, 3.0)
    separate_file_streamed(separator, path, tmp_path / "out", subtype="FLOAT")
    whole = separator.separate(decode(path))
    for name in separator.stems:
        np.testing.assert_array_equal(read(tmp_path / "out" / "song" / f"{name}.wav"), whole[name].samples)
    assert sum(span.shape[-1] for _, span in spans) == readings.length
