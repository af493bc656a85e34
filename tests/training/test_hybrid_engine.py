"""The hybrid engine on a tiny Demucs v4 exported like htdemucs.onnx, against demucs' own PyTorch code."""

import numpy as np
import pytest
import torch

from stemdesk.audio import Audio, decode
from stemdesk.chunking import CancelToken, Cancelled
from stemdesk.cli import DEMO_SONG
from stemdesk.hybrid import (
    HybridSeparator,
    channels_as_complex,
    complex_as_channels,
    hybrid_inverse,
    hybrid_spectrogram,
)
from stemdesk.dsp import hann_window

pytest.importorskip("demucs")
from demucs.apply import apply_model  # noqa: E402

from tests.training.conftest import tiny_htdemucs  # noqa: E402


def sdr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


def song(seconds: float, rate: int = 44100, channels: int = 2) -> Audio:
    """The demo song, tiled or cut to ``seconds``, resampled-free slices of real music."""
    demo = decode(DEMO_SONG)
    length = int(seconds * demo.rate)
    samples = np.tile(demo.samples, (1, length // demo.num_samples + 1))[:channels, :length]
    audio = Audio(np.ascontiguousarray(samples), demo.rate)
    if rate != demo.rate:
        from stemdesk.audio import resample

        audio = resample(audio, rate)
    return audio


@pytest.fixture(scope="module")
def raw_separator(tiny_hybrid):
    return HybridSeparator(tiny_hybrid.card, "cpu", sum_to_mixture=False)


@pytest.fixture(scope="module")
def separator(tiny_hybrid):
    return HybridSeparator(tiny_hybrid.card, "cpu")


def test_spectrogram_and_inverse_are_demucs_own(tiny_hybrid):
    model = tiny_hybrid.model
    segment = song(1.0).samples
    window = hann_window(4096)
    ours = hybrid_spectrogram(segment, 4096, 1024, window)
    theirs = model._spec(torch.from_numpy(segment)).numpy()
    assert ours.shape == theirs.shape == (2, 2048, 44)
    assert sdr(theirs, ours) > 100
    layout = complex_as_channels(ours)
    assert np.array_equal(layout, model._magnitude(torch.from_numpy(ours)[None]).numpy()[0])
    assert np.array_equal(channels_as_complex(layout), ours)
    back = hybrid_inverse(ours, 4096, 1024, window, segment.shape[-1])
    theirs_back = model._ispec(torch.from_numpy(ours), segment.shape[-1]).numpy()
    assert sdr(theirs_back, back) > 100


def test_raw_outputs_are_demucs_apply_model(tiny_hybrid, raw_separator):
    """3.4 segments: the triangle transitions, the centred short tail chunks and the normalisation."""
    audio = song(3.4)
    ours = raw_separator.separate(audio)
    wav = torch.from_numpy(audio.samples)
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    with torch.no_grad():
        theirs = apply_model(tiny_hybrid.model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=0.25)[0]
    theirs = (theirs * std + mean).numpy()
    for index, stem in enumerate(tiny_hybrid.card.stems):
        assert sdr(theirs[index], ours[stem].samples) > 60, stem


def test_the_shipped_overlap_is_apply_models_too(tiny_hybrid):
    """htdemucs' card overlaps segments by 0.1, not apply_model's default 0.25: the same plan and blend as apply_model(overlap=0.1)."""
    from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard

    overlap = HybridCard.load(HTDEMUCS_CARD).overlap
    assert overlap != 0.25
    card = tiny_hybrid.card.model_copy(update={"overlap": overlap})
    card._card_path = tiny_hybrid.card.card_path
    audio = song(3.4)
    ours = HybridSeparator(card, "cpu", sum_to_mixture=False).separate(audio)
    wav = torch.from_numpy(audio.samples)
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    with torch.no_grad():
        theirs = apply_model(tiny_hybrid.model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=overlap)[0]
    theirs = (theirs * std + mean).numpy()
    for index, stem in enumerate(card.stems):
        assert sdr(theirs[index], ours[stem].samples) > 60, stem


def test_stems_sum_to_the_song_and_keep_its_shape(separator):
    audio = song(2.3)
    stems = separator.separate(audio)
    assert list(stems) == ["drums", "bass", "other", "vocals"]
    for stem in stems.values():
        assert stem.samples.shape == audio.samples.shape and stem.rate == audio.rate
        assert stem.samples.dtype == np.float32
    total = sum(stem.samples for stem in stems.values())
    assert np.abs(total - audio.samples).max() < 1e-5


def test_raw_outputs_do_not_sum_to_the_song(raw_separator):
    """What the residual projection is for: Demucs' own stems miss part of the song."""
    audio = song(2.3)
    raw = raw_separator.separate(audio)
    assert np.abs(sum(stem.samples for stem in raw.values()) - audio.samples).max() > 1e-3


def test_mono_song_gives_mono_stems_summing_to_it(separator):
    audio = song(1.5, channels=1)
    stems = separator.separate(audio)
    for stem in stems.values():
        assert stem.samples.shape == (1, audio.num_samples)
    assert np.abs(sum(s.samples for s in stems.values()) - audio.samples).max() < 1e-5


@pytest.mark.parametrize("rate", [22050, 48000])
def test_other_rates_come_back_at_their_rate(separator, rate):
    audio = song(1.3, rate=rate)
    stems = separator.separate(audio)
    for stem in stems.values():
        assert stem.rate == rate and stem.samples.shape == audio.samples.shape
    assert np.abs(sum(s.samples for s in stems.values()) - audio.samples).max() < 1e-5


@pytest.mark.parametrize("seconds", [0.3, 0.001])
def test_input_shorter_than_a_segment(separator, raw_separator, tiny_hybrid, seconds):
    audio = song(seconds)
    stems = separator.separate(audio)
    assert all(stem.samples.shape == audio.samples.shape for stem in stems.values())
    assert np.abs(sum(s.samples for s in stems.values()) - audio.samples).max() < 1e-5
    if seconds > 0.1:
        # Demucs pads a short song to a segment with zeros after it, as apply_model does.
        raw = raw_separator.separate(audio)
        wav = torch.from_numpy(audio.samples)
        reference = wav.mean(0)
        mean, std = reference.mean(), reference.std() + 1e-8
        with torch.no_grad():
            theirs = apply_model(tiny_hybrid.model, ((wav - mean) / std)[None], shifts=0, split=True)[0]
        theirs = (theirs * std + mean).numpy()
        assert sdr(theirs[0], raw["drums"].samples) > 60


def test_progress_counts_every_segment_and_cancel_stops(separator):
    audio = song(3.4)
    seen = []
    separator.separate(audio, progress=lambda done, total: seen.append((done, total)))
    # 3.4 s in steps of 0.75 s: Demucs' plan starts a segment at every step.
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    token = CancelToken()

    def cancel_after_first(done, total):
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        separator.separate(audio, progress=cancel_after_first, cancel=token)


def test_shifts_average_delayed_passes(tiny_hybrid, separator):
    card = tiny_hybrid.card.model_copy(update={"shifts": 2})
    card._card_path = tiny_hybrid.card.card_path
    shifted = HybridSeparator(card, "cpu")
    audio = song(1.8)
    seen = []
    stems = shifted.separate(audio, progress=lambda done, total: seen.append((done, total)))
    plain = separator.separate(audio)
    # Two passes of three segments: 1.8 s delayed by 0.125 s and by 0.375 s.
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    assert np.abs(sum(s.samples for s in stems.values()) - audio.samples).max() < 1e-5
    # A time-equivariant net would give the same stems; this one, random, does not quite.
    assert 0 < np.abs(stems["drums"].samples - plain["drums"].samples).max()


def test_tiny_model_weights_read_back_from_its_graph(tiny_hybrid):
    from stemdesk.training.htdemucs import read_weights

    fresh = read_weights(tiny_htdemucs(seed=1), tiny_hybrid.card.onnx_path)
    exported = dict(tiny_hybrid.model.named_parameters())
    for name, parameter in fresh.named_parameters():
        assert torch.allclose(parameter, exported[name], rtol=1e-6, atol=1e-7), name


def test_asking_for_a_gpu_without_one_is_one_line(tiny_hybrid):
    from stemdesk.errors import StemdeskError
    from stemdesk.separate import nvidia_driver_present

    if nvidia_driver_present():
        pytest.skip("this machine has an NVIDIA driver")
    with pytest.raises(StemdeskError, match="No usable GPU"):
        HybridSeparator(tiny_hybrid.card, "gpu")


def test_the_catalogue_opens_a_hybrid_card_as_a_stem_separator(tiny_hybrid_folder):
    from stemdesk.catalogue import Catalogue
    from stemdesk.separators import StemSeparator

    catalogue = Catalogue([tiny_hybrid_folder])
    assert "tiny-hybrid" in [card.id for card in catalogue.list()]
    separator = catalogue.open("tiny-hybrid", device="cpu")
    assert isinstance(separator, StemSeparator) and isinstance(separator, HybridSeparator)
    audio = song(0.5)
    stems = separator.separate(audio)
    assert np.abs(sum(s.samples for s in stems.values()) - audio.samples).max() < 1e-5


def assert_close_to_float32_and_reopened_from_cache(separator, quantised, card, cached) -> None:
    """The quantised separator's stems sum to the song and stay 15 dB or more from float32's;
    opening ``card`` again reads ``cached``, not quantising or calibrating once more."""
    audio = song(2.3)
    full = separator.separate(audio)
    small = quantised.separate(audio)
    assert np.abs(sum(s.samples for s in small.values()) - audio.samples).max() < 1e-5
    for stem in card.stems:
        assert 15 < sdr(full[stem].samples, small[stem].samples) < 200, stem
    written = cached.stat().st_mtime_ns
    HybridSeparator(card, "cpu")
    assert cached.stat().st_mtime_ns == written


def test_int8_weights_are_built_once_cached_apart_and_stay_close(tiny_hybrid, separator, capfd):
    """``cpu_weights: int8``: the transformer's weight products run quantised, from a graph cached beside the float one."""
    import onnx
    import onnxruntime

    from stemdesk.optimized_models import CachedGraph, optimized_path, sidecar_path

    card = tiny_hybrid.card.model_copy(update={"cpu_weights": "int8"})
    card._card_path = tiny_hybrid.card.card_path
    assert card.identity != tiny_hybrid.card.identity  # the stem cache tells the two apart
    quantised = HybridSeparator(card, "cpu")
    cached = optimized_path(card, onnxruntime.__version__)
    assert cached != optimized_path(tiny_hybrid.card, onnxruntime.__version__)
    assert cached.is_file() and CachedGraph.model_validate_json(sidecar_path(cached).read_bytes()).cpu_weights == "int8"
    ops = {node.op_type for node in onnx.load(cached).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger"}
    assert "please consider" not in capfd.readouterr().err.lower()  # the quantiser's advice is not shown to users
    assert_close_to_float32_and_reopened_from_cache(separator, quantised, card, cached)


def test_int8_convolutions_are_calibrated_on_the_demo_fused_cached_apart_and_stay_close(tiny_hybrid, separator):
    """``cpu_int8_convolutions``: the convolutions named run as ORT's QLinearConv, from a graph cached once."""
    import re

    import onnx
    import onnxruntime

    from stemdesk.optimized_models import CachedGraph, cpu_has_vnni, optimized_path, sidecar_path

    pattern = r"^/t?decoder\.[012]/rewrite/"
    card = tiny_hybrid.card.model_copy(update={"cpu_weights": "int8", "cpu_int8_convolutions": pattern})
    card._card_path = tiny_hybrid.card.card_path
    products_only = tiny_hybrid.card.model_copy(update={"cpu_weights": "int8"})
    assert card.identity != products_only.identity  # the stem cache tells them apart
    quantised = HybridSeparator(card, "cpu")
    cached = optimized_path(card, onnxruntime.__version__)
    convolutions = [node.name for node in onnx.load(tiny_hybrid.card.onnx_path).graph.node if node.op_type == "Conv"]
    chosen = [name for name in convolutions if re.search(pattern, name)] if cpu_has_vnni() else []
    # Without VNNI the convolutions stay float32: the graph is the products-only one.
    assert (cached != optimized_path(products_only, onnxruntime.__version__)) == bool(chosen)
    recorded = CachedGraph.model_validate_json(sidecar_path(cached).read_bytes()).cpu_int8_convolutions
    assert recorded == (pattern if chosen else None)
    assert len(chosen) in (0, 6)
    ops = [node.op_type for node in onnx.load(cached).graph.node]
    # ORT's CPU provider runs them in int8 (the QDQ pairs fused); the other convolutions stay float32.
    assert ops.count("QLinearConv") == len(chosen)
    assert ops.count("Conv") == len(convolutions) - len(chosen)
    assert "DynamicQuantizeMatMul" in ops
    assert_close_to_float32_and_reopened_from_cache(separator, quantised, card, cached)


def test_int8_convolutions_that_match_nothing_are_refused_in_one_line(tiny_hybrid):
    from stemdesk.errors import StemdeskError
    from stemdesk.optimized_models import cpu_has_vnni

    if not cpu_has_vnni():
        pytest.skip("this CPU has no VNNI: int8 convolutions are not built here")

    card = tiny_hybrid.card.model_copy(update={"cpu_int8_convolutions": "^/no-such-layer/"})
    card._card_path = tiny_hybrid.card.card_path
    with pytest.raises(StemdeskError, match="no convolution of its graph matches cpu_int8_convolutions") as raised:
        HybridSeparator(card, "cpu")
    assert "\n" not in str(raised.value)


def test_fused_attention_is_built_once_cached_apart_and_computes_what_float32_does(tiny_hybrid, separator):
    """``cpu_fused_attention``: the attention runs as ORT's MultiHeadAttention, the stems those of the plain graph."""
    import onnx
    import onnxruntime

    from stemdesk.optimized_models import CachedGraph, optimized_path, sidecar_path

    card = tiny_hybrid.card.model_copy(update={"cpu_fused_attention": True})
    card._card_path = tiny_hybrid.card.card_path
    assert card.identity != tiny_hybrid.card.identity  # the stem cache tells the two apart
    fused = HybridSeparator(card, "cpu")
    cached = optimized_path(card, onnxruntime.__version__)
    assert cached != optimized_path(tiny_hybrid.card, onnxruntime.__version__)
    assert CachedGraph.model_validate_json(sidecar_path(cached).read_bytes()).cpu_fused_attention
    ops = [node.op_type for node in onnx.load(cached).graph.node]
    softmaxes = [node for node in onnx.load(tiny_hybrid.card.onnx_path).graph.node if node.op_type == "Softmax"]
    assert ops.count("MultiHeadAttention") == len(softmaxes) == 2 and "Softmax" not in ops
    audio = song(2.3)
    full = separator.separate(audio)
    stems = fused.separate(audio)
    for stem in card.stems:
        assert sdr(full[stem].samples, stems[stem].samples) > 90, stem  # float rounding only
    written = cached.stat().st_mtime_ns
    HybridSeparator(card, "cpu")
    assert cached.stat().st_mtime_ns == written


def test_fused_attention_comes_after_the_int8_weights_and_convolutions(tiny_hybrid, separator):
    """The shipped CPU settings together: int8 products and convolutions, then the fused attention."""
    import onnx
    import onnxruntime

    from stemdesk.optimized_models import cpu_has_vnni, optimized_path

    pattern = r"^/t?decoder\.[012]/rewrite/"
    card = tiny_hybrid.card.model_copy(update={"cpu_weights": "int8", "cpu_int8_convolutions": pattern,
                                               "cpu_fused_attention": True})
    card._card_path = tiny_hybrid.card.card_path
    quantised = HybridSeparator(card, "cpu")
    cached = optimized_path(card, onnxruntime.__version__)
    unfused = card.model_copy(update={"cpu_fused_attention": False})
    assert cached != optimized_path(unfused, onnxruntime.__version__)
    ops = [node.op_type for node in onnx.load(cached).graph.node]
    assert ops.count("MultiHeadAttention") == 2 and "DynamicQuantizeMatMul" in ops
    assert ops.count("QLinearConv") == (6 if cpu_has_vnni() else 0)
    assert_close_to_float32_and_reopened_from_cache(separator, quantised, card, cached)
