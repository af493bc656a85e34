import numpy as np
import pytest

from stemdesk.chunking import CancelToken, Cancelled, ChunkPlan, apply_chunked, stream_chunked


def identity(batch):
    return batch[:, None]


@pytest.mark.parametrize("length", [1, 100, 999, 1000, 1001, 5000, 12345])
def test_identity_network_returns_the_input(length):
    signal = np.random.default_rng(length).uniform(-1, 1, (2, length)).astype(np.float32)
    out = apply_chunked(signal, identity, outputs=1, chunk=1000, overlap=125, batch=3)
    assert out.shape == (1, 2, length)
    np.testing.assert_allclose(out[0], signal, atol=1e-6, rtol=0)


def test_chunks_cover_the_signal_and_crossfades_sum_to_one():
    plan = ChunkPlan(length=5000, chunk=1000, overlap=200)
    starts = plan.starts
    assert starts[0] == 0 and starts[-1] + 1000 >= 5000
    total = np.zeros(starts[-1] + 1000)
    for index, start in enumerate(starts):
        total[start : start + 1000] += plan.weight(index, len(starts))
    np.testing.assert_allclose(total[:5000], 1.0, atol=1e-6)


def test_each_chunk_sees_the_right_samples_and_stems_sum_to_input():
    signal = np.arange(3 * 2500, dtype=np.float32).reshape(1, -1) / 7500

    def split(batch):  # two "stems" that sum to the chunk: a linear, position-dependent split
        ramp = np.linspace(0, 1, batch.shape[-1], dtype=np.float32)
        return np.stack([batch * ramp, batch * (1 - ramp)], axis=1)

    out = apply_chunked(signal, split, outputs=2, chunk=1000, overlap=100)
    np.testing.assert_allclose(out.sum(axis=0), signal, atol=1e-6)
    assert not np.allclose(out[0], out[1])


def test_progress_and_cancel_between_chunks():
    signal = np.zeros((1, 10_000), dtype=np.float32)
    token = CancelToken()
    calls, seen = [], []

    def process(batch):
        calls.append(batch.shape[0])
        if len(calls) == 2:
            token.cancel()
        return batch[:, None]

    with pytest.raises(Cancelled):
        apply_chunked(signal, process, 1, chunk=1000, overlap=100,
                      progress=lambda d, t: seen.append((d, t)), cancel=token)
    assert len(calls) == 2  # stopped before the third chunk
    assert seen[0][0] == 0 and seen[-1] == (2, seen[0][1]) and seen[0][1] > 2


def test_parallel_workers_give_the_same_result_as_one():
    signal = np.random.default_rng(3).uniform(-1, 1, (2, 9000)).astype(np.float32)

    def split(batch):
        return np.stack([batch * 0.25, batch * 0.75], axis=1)

    serial = apply_chunked(signal, split, 2, chunk=1000, overlap=100, batch=2)
    parallel = apply_chunked(signal, split, 2, chunk=1000, overlap=100, batch=2, workers=3)
    np.testing.assert_array_equal(serial, parallel)


def _squash_and_square(batch):
    # Nonlinear and chunk-dependent, so any change in how chunks are cut or blended shows.
    return np.stack([np.tanh(batch * 1.7), batch * batch], axis=1)


@pytest.mark.parametrize("length", [0, 1, 999, 1000, 1001, 12345])
@pytest.mark.parametrize("batch, workers", [(1, 1), (3, 2)])
def test_streamed_blocks_give_bit_identical_output(length, batch, workers):
    rng = np.random.default_rng(length)
    signal = rng.standard_normal((2, length)).astype(np.float32)
    whole = apply_chunked(signal, _squash_and_square, 2, chunk=1000, overlap=128, batch=batch, workers=workers)
    cuts = np.cumsum(rng.integers(1, 700, size=60))
    blocks = np.split(signal, cuts[cuts < length], axis=1)
    spans = list(stream_chunked(blocks, _squash_and_square, 2, chunk=1000, overlap=128, batch=batch, workers=workers))
    starts = [start for start, _ in spans]
    assert starts == sorted(starts)
    streamed = np.concatenate([span for _, span in spans], axis=-1) if spans else np.zeros((2, 2, 0), np.float32)
    assert sum(span.shape[-1] for _, span in spans) == length
    assert np.array_equal(streamed, whole)


def test_streaming_reads_input_only_as_far_as_the_next_chunk_needs():
    signal = np.ones((1, 50_000), dtype=np.float32)
    read = []

    def blocks():
        for start in range(0, signal.shape[1], 500):
            read.append(start + 500)
            yield signal[:, start : start + 500]

    spans = stream_chunked(blocks(), identity, 1, chunk=1000, overlap=100)
    start, first = next(spans)
    assert (start, first.shape[-1]) == (0, 900)
    # One sample past the first chunk tells that another follows: one block more.
    assert read[-1] <= 1000 + 500
    rest = list(spans)
    assert read[-1] == 50_000 and rest[-1][0] + rest[-1][1].shape[-1] == 50_000


def test_on_span_hands_out_final_spans_in_order_as_chunks_finish():
    rng = np.random.default_rng(3)
    signal = rng.standard_normal((2, 7777)).astype(np.float32)
    seen = []
    progress = []
    result = apply_chunked(
        signal, _squash_and_square, 2, chunk=1000, overlap=200,
        progress=lambda done, total: progress.append(done),
        on_span=lambda start, span: seen.append((start, span.copy(), len(progress))),
    )
    assert [start for start, _, _ in seen] == [0, *range(800, 7777, 800)][: len(seen)]
    assert sum(span.shape[-1] for _, span, _ in seen) == 7777
    for start, span, _ in seen:
        # Final when handed out: nothing later changed it.
        assert np.array_equal(span, result[:, :, start : start + span.shape[-1]])
    # A span is handed out before the chunks after it have run.
    assert seen[0][2] < len(progress)
def demucs_overlap_add(signal, process, chunk, overlap):
    """Demucs' apply_model written out: a chunk at every step, short ones centred, weights summed then divided."""
    channels, length = signal.shape
    step = chunk - overlap
    half = chunk // 2
    triangle = np.concatenate([np.arange(1, half + 1), np.arange(chunk - half, 0, -1)]).astype(np.float64)
    triangle /= triangle.max()
    out = np.zeros((channels, length))
    total = np.zeros(length)
    for start in range(0, length, step):
        span = min(chunk, length - start)
        first = start - (chunk - span) // 2
        window = np.zeros((channels, chunk), dtype=np.float32)
        lo, hi = max(first, 0), min(first + chunk, length)
        window[:, lo - first : hi - first] = signal[:, lo:hi]
        result = process(window[None])[0, 0]
        offset = start - first
        out[:, start : start + span] += triangle[:span] * result[:, offset : offset + span]
        total[start : start + span] += triangle[:span]
    return out / total


@pytest.mark.parametrize("length", [1, 700, 1000, 2600, 5321])
def test_triangle_transition_is_demucs_overlap_add(length):
    signal = np.random.default_rng(length).uniform(-1, 1, (2, length)).astype(np.float32)

    def position_dependent(batch):  # not shift-invariant: where a window starts matters
        ramp = np.linspace(0.5, 1.5, batch.shape[-1], dtype=np.float32)
        return (batch * ramp)[:, None]

    ours = apply_chunked(signal, position_dependent, 1, chunk=1000, overlap=250, transition="triangle")
    np.testing.assert_allclose(ours[0], demucs_overlap_add(signal, position_dependent, 1000, 250), atol=2e-6)
    identity_out = apply_chunked(signal, identity, 1, chunk=1000, overlap=250, transition="triangle", workers=2)
    np.testing.assert_allclose(identity_out[0], signal, atol=1e-6)


def test_triangle_weights_sum_to_one_and_sharpen_with_power():
    for power in (1.0, 2.0):
        plan = ChunkPlan(length=4321, chunk=1000, overlap=250, transition="triangle", transition_power=power)
        total = np.zeros(4321)
        for index in range(len(plan.starts)):
            start, stop = plan.span(index)
            total[start:stop] += plan.weight(index, len(plan.starts))
        np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert plan.starts == [0, 750, 1500, 2250, 3000, 3750]
    assert plan.window_start(5) == 3750 - (1000 - 571) // 2  # the short last chunk is centred
    with pytest.raises(ValueError):
        ChunkPlan(length=10, chunk=4, overlap=1, transition="square")


@pytest.mark.parametrize("transition, length", [("crossfade", 5500), ("triangle", 5500), ("triangle", 400)])
def test_first_alone_runs_the_first_chunk_by_itself_and_changes_nothing_else(transition, length):
    import threading
    import time

    signal = np.random.default_rng(7).standard_normal((2, length)).astype(np.float32)
    events, lock = [], threading.Lock()

    def logged(batch):
        with lock:
            events.append(("start", float(batch[0, 0, 0])))
        time.sleep(0.1)  # long enough for a second chunk to start beside it, were it submitted
        with lock:
            events.append(("end", float(batch[0, 0, 0])))
        return _squash_and_square(batch)

    def spans(first_alone):
        events.clear()
        return list(stream_chunked([signal], logged, 2, chunk=1000, overlap=250, workers=2, length=length,
                                   transition=transition, first_alone=first_alone))

    together = spans(False)
    assert [kind for kind, _ in events[:2]] == ["start", "start"] or length <= 750
    alone = spans(True)
    # Nothing else starts until the first chunk is done; then two are in flight again.
    assert events[0][0] == "start" and events[1] == ("end", events[0][1])
    if length > 2000:
        assert [kind for kind, _ in events[2:4]] == ["start", "start"]
    assert [start for start, _ in alone] == [start for start, _ in together]
    for (_, a), (_, b) in zip(alone, together):
        assert np.array_equal(a, b)
