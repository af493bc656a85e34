"""The hybrid engine span by span: stems final in order while later segments run, the floats of a whole-song pass."""

import threading

import numpy as np
import pytest

from stemdesk.audio import Audio, resample
from stemdesk.chunking import CancelToken, Cancelled, apply_chunked
from stemdesk.growing_stems import GrowingStems
from stemdesk.hybrid import HybridSeparator
from stemdesk.session import SongSession, hands_out_spans, separate_song
from stemdesk.stem_cache import StemCache

pytest.importorskip("demucs")

from tests.training.test_hybrid_engine import song  # noqa: E402


def with_shifts(card, shifts):
    changed = card.model_copy(update={"shifts": shifts})
    changed._card_path = card.card_path
    return changed


def whole_song_stems(separator: HybridSeparator, audio: Audio) -> np.ndarray:
    """float32 ``(S, C, N)``: the hybrid pipeline run on the whole song at each step, as one pass would.

    Each pass blended over the whole (delayed) song by ``apply_chunked``, the
    passes averaged, scaled back, resampled in one go per stem, and the
    rounding given to the remainder stem over the whole song.
    """
    card = separator.card
    mix = resample(audio, card.sample_rate).samples
    if mix.shape[0] < 2:
        mix = np.repeat(mix, 2, axis=0)
    reference = mix.mean(axis=0)
    # Taken in float64, as the engine takes them block by block.
    mean, std = float(reference.mean(dtype=np.float64)), float(reference.std(ddof=1, dtype=np.float64)) + 1e-8
    normalised = (mix - np.float32(mean)) / np.float32(std)
    max_shift = int(card.max_shift_seconds * card.sample_rate)
    delays = [0] if card.shifts == 0 else [(2 * k + 1) * max_shift // (2 * card.shifts) for k in range(card.shifts)]
    total = None
    for delay in delays:
        out = apply_chunked(
            np.pad(normalised, ((0, 0), (delay, 0))), separator._separate_segments, outputs=len(card.stems),
            chunk=card.segment_samples, overlap=card.overlap_samples, transition="triangle",
            transition_power=card.transition_power,
        )[:, :, delay:]
        total = out if total is None else total + out
    if len(delays) > 1:
        total /= np.float32(len(delays))
    total *= np.float32(std)
    total += np.float32(mean / len(card.stems) if separator.sum_to_mixture else mean)
    if audio.channels == 1:
        total = total.mean(axis=1, keepdims=True)
    stems = np.zeros((len(card.stems),) + audio.samples.shape, dtype=np.float32)
    for index, stem in enumerate(total):
        back = resample(Audio(stem, card.sample_rate), audio.rate).samples[:, : audio.num_samples]
        stems[index, :, : back.shape[1]] = back
    if separator.sum_to_mixture:
        stems[card.stems.index(card.remainder_stem)] += audio.samples - stems.sum(axis=0)
    return stems


@pytest.mark.parametrize(
    ("seconds", "rate", "channels", "shifts", "sums"),
    [
        (3.4, 44100, 2, 0, True),  # five segments, the card's default
        (2.6, 48000, 2, 0, True),  # resampled both ways
        (2.2, 22050, 1, 0, True),  # mono, resampled
        (3.1, 44100, 2, 0, False),  # Demucs' raw outputs
        (2.4, 44100, 2, 2, True),  # two passes side by side
        (1.9, 48000, 1, 3, True),
    ],
)
def test_spans_come_in_order_while_segments_run_and_are_the_whole_song_pass(
    tiny_hybrid, seconds, rate, channels, shifts, sums
):
    separator = HybridSeparator(with_shifts(tiny_hybrid.card, shifts), "cpu", sum_to_mixture=sums)
    audio = song(seconds, rate=rate, channels=channels)
    progress, spans, segments_done = [], [], []
    network = separator._separate_segments

    def counted(segments):
        result = network(segments)
        segments_done.append(len(segments))
        return result

    separator._separate_segments = counted
    stems = separator.separate(
        audio, progress=lambda done, total: progress.append((done, total)),
        on_span=lambda start, span: spans.append((start, span.copy(), sum(segments_done))),
    )
    del separator._separate_segments  # the reference below runs the network uncounted
    whole = np.stack([stem.samples for stem in stems.values()])
    np.testing.assert_array_equal(whole, whole_song_stems(separator, audio))
    # Final spans, in order, without gaps, as long as the song.
    assert len(spans) > 2
    assert [start for start, _, _ in spans] == list(np.cumsum([0] + [span.shape[-1] for _, span, _ in spans[:-1]]))
    assert spans[-1][0] + spans[-1][1].shape[-1] == audio.num_samples
    for start, span, _ in spans:
        np.testing.assert_array_equal(span, whole[:, :, start : start + span.shape[-1]])
        if sums:
            # Each span sums to its part of the song on its own.
            np.testing.assert_allclose(span.sum(axis=0), audio.samples[:, start : start + span.shape[-1]], atol=1e-5)
    # The first span is out after the first segment of each pass (and the one
    # beside it in flight), long before the last.
    total = progress[-1][1]
    assert progress[-1] == (total, total) and sum(segments_done) == total
    assert max(1, shifts) <= spans[0][2] <= 2 * max(1, shifts) < total


def test_out_is_filled_and_returned_and_spans_are_views_of_it(tiny_hybrid):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    audio = song(2.5)
    out = np.full((4, 2, audio.num_samples), np.nan, dtype=np.float32)
    seen = []
    stems = separator.separate(audio, out=out, on_span=lambda start, span: seen.append(np.shares_memory(span, out)))
    assert seen and all(seen)
    assert not np.isnan(out).any()
    for index, stem in enumerate(stems.values()):
        assert np.shares_memory(stem.samples, out)
        np.testing.assert_array_equal(stem.samples, out[index])
    with pytest.raises(ValueError, match="out must be float32"):
        separator.separate(audio, out=np.zeros((4, 2, 10), dtype=np.float32))


def test_cancel_after_the_first_span_stops_every_pass_and_leaves_no_thread(tiny_hybrid):
    separator = HybridSeparator(with_shifts(tiny_hybrid.card, 2), "cpu")
    audio = song(3.4)
    token = CancelToken()
    threads = threading.active_count()
    spans = []

    def cancel_at_first_span(start, span):
        spans.append(start)
        token.cancel()

    with pytest.raises(Cancelled):
        separator.separate(audio, cancel=token, on_span=cancel_at_first_span)
    assert spans == [0]
    assert threading.active_count() == threads


def test_a_hybrid_song_is_played_from_its_first_segment_on(tiny_hybrid, tmp_path):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    assert hands_out_spans(separator)
    session = SongSession(path=tmp_path / "song.wav", mixture=song(4.0))
    seen = []

    def on_growing(growing: GrowingStems):
        seen.append((growing.frontier, growing.buffer[:, :, : growing.frontier].copy(), growing))

    separated = separate_song(session, separator, StemCache(tmp_path / "cache"), on_growing=on_growing)
    [(frontier, early, growing)] = seen
    # One segment's step (0.75 s of this 1 s model) is final at once, out of 4 s.
    assert 0.7 * 44100 < frontier < 1.5 * 44100
    assert growing.complete
    plain = separator.separate(session.mixture)
    for index, name in enumerate(separator.stems):
        np.testing.assert_array_equal(separated.stems[name].samples, plain[name].samples)
        np.testing.assert_array_equal(early[index], plain[name].samples[:, :frontier])


def test_stream_gives_separate_spans_whatever_the_blocks(tiny_hybrid):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    audio = song(2.7, rate=48000)
    whole = np.stack([stem.samples for stem in separator.separate(audio).values()])
    cuts = [0, 1, 5000, 5001, 70_000, audio.num_samples]
    blocks = [audio.samples[:, a:b] for a, b in zip(cuts, cuts[1:])]
    spans = list(separator.stream(iter(blocks), audio.rate))
    assert len(spans) > 2
    np.testing.assert_array_equal(np.concatenate([span for _, span in spans], axis=-1), whole)


def test_streaming_a_longer_song_needs_no_more_memory_than_its_blocks(tiny_hybrid):
    """Besides the song's blocks (the caller's), what a stream allocates does not grow with the song.

    Measured with tracemalloc (numpy's arrays, not ONNX Runtime's): the peak
    is a segment's spectrograms, whatever the length; a concatenation of the
    blocks and a normalised copy of the song, as this engine once made, grew
    it by 2.4 bytes per byte of song.
    """
    import tracemalloc

    separator = HybridSeparator(tiny_hybrid.card, "cpu")

    def peak_and_size(seconds: float) -> tuple[int, int]:
        audio = song(seconds)
        blocks = [np.ascontiguousarray(audio.samples[:, start : start + 65536])
                  for start in range(0, audio.num_samples, 65536)]
        del audio
        tracemalloc.start()
        try:
            handed_out = sum(span.shape[-1] for _, span in separator.stream(iter(blocks), 44100))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert handed_out == sum(block.shape[1] for block in blocks)
        return peak, sum(block.nbytes for block in blocks)

    (short_peak, short_size), (long_peak, long_size) = peak_and_size(15.0), peak_and_size(60.0)
    growth = (long_peak - short_peak) / (long_size - short_size)
    # The channels' mean taken for the normalisation is half a song, when it is not below a segment's peak.
    assert growth < 0.6, f"{growth:.2f} bytes more at the peak per byte of song"


@pytest.fixture
def hybrid_then_mask_preset(tiny_hybrid_folder, default_card):
    """A preset whose first step is the tiny hybrid model (drums, bass), then Spleeter's vocals of what is left."""
    import json
    import shutil

    shutil.copy(default_card.card_path, tiny_hybrid_folder)
    shutil.copy(default_card.onnx_path, tiny_hybrid_folder)
    preset = {
        "id": "hybrid-band", "name": "drums, bass, vocals, rest", "version": "1.0.0", "kind": "preset",
        "steps": [{"model": "tiny-hybrid", "keep": ["drums", "bass"]},
                  {"model": "spleeter-2stems", "keep": "vocals"}],
        "residual": "rest",
    }
    (tiny_hybrid_folder / "hybrid-band.json").write_text(json.dumps(preset))
    return tiny_hybrid_folder


def test_a_preset_starting_with_a_hybrid_model_hands_out_spans(hybrid_then_mask_preset):
    from stemdesk.catalogue import Catalogue

    separator = Catalogue([hybrid_then_mask_preset]).open("hybrid-band", device="cpu")
    assert separator.streams and hands_out_spans(separator)
    audio = song(14.0)  # more than one Spleeter chunk (11.9 s)
    spans = []
    stems = separator.separate(audio, on_span=lambda start, span: spans.append(start))
    assert len(spans) > 1 and spans[0] == 0
    in_turn = separator._separate_in_turn(audio, None, None)
    for name in separator.stems:
        np.testing.assert_array_equal(stems[name].samples, in_turn[name].samples)
    np.testing.assert_allclose(sum(s.samples for s in stems.values()), audio.samples, atol=1e-5)


def test_the_first_segment_has_the_cores_to_itself(tiny_hybrid):
    separator = HybridSeparator(tiny_hybrid.card, "cpu")
    network, events, lock = separator._separate_segments, [], threading.Lock()

    def logged(segments):
        with lock:
            events.append("start")
        result = network(segments)
        with lock:
            events.append("end")
        return result

    separator._separate_segments = logged
    separator.separate(song(3.4))
    assert events[:2] == ["start", "end"] and len(events) == 10
