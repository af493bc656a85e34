"""ORT's optimised graph of a model, cached between runs: same outputs, rebuilt when damaged or not this model's."""

import json
import os

import numpy as np
import onnxruntime
import pytest

from stemdesk.catalogue import Catalogue
from stemdesk.optimized_models import cache_folder, optimized_path, sidecar_path
from stemdesk.separate import open_session


@pytest.fixture
def fresh_cache(own_cache_folder):
    """An empty optimised-model cache; the files of earlier tests are put back afterwards."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder.with_name("kept")
    os.replace(folder, kept)
    folder.mkdir()
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    os.replace(kept, folder)


def masks(session, card, frames=64):
    magnitude = np.random.default_rng(0).random((1, 2, frames, card.bins), dtype=np.float32)
    return session.run(None, {card.input.name: magnitude})[0]


def plain_session(card):
    return onnxruntime.InferenceSession(str(card.onnx_path), providers=["CPUExecutionProvider"])


def test_the_cached_graph_computes_what_the_model_does(default_card, fresh_cache):
    cached = optimized_path(default_card, onnxruntime.__version__)
    assert not cached.exists()
    first = open_session(default_card, "cpu")
    assert cached.is_file() and sorted(fresh_cache.iterdir()) == sorted([cached, sidecar_path(cached)])
    written = cached.stat().st_mtime_ns
    second = open_session(default_card, "cpu")
    assert cached.stat().st_mtime_ns == written  # read, not rebuilt
    expected = masks(plain_session(default_card), default_card)
    np.testing.assert_array_equal(masks(first, default_card), expected)
    np.testing.assert_array_equal(masks(second, default_card), expected)


def test_a_damaged_cache_file_is_rebuilt(default_card, fresh_cache):
    cached = optimized_path(default_card, onnxruntime.__version__)
    cached.write_bytes(b"not an onnx graph")
    session = open_session(default_card, "cpu")
    np.testing.assert_array_equal(masks(session, default_card), masks(plain_session(default_card), default_card))
    assert cached.stat().st_size > 1_000_000
    onnxruntime.InferenceSession(str(cached), providers=["CPUExecutionProvider"])


def test_the_sidecar_records_what_the_graph_was_built_from(default_card, fresh_cache):
    open_session(default_card, "cpu")
    cached = optimized_path(default_card, onnxruntime.__version__)
    recorded = json.loads(sidecar_path(cached).read_text())
    assert recorded["model"] == default_card.id and recorded["source_sha256"] == default_card.sha256
    assert recorded["ort_version"] == onnxruntime.__version__ and recorded["graph_bytes"] == cached.stat().st_size
    assert sorted(path.name for path in fresh_cache.iterdir()) == sorted([cached.name, sidecar_path(cached).name])


@pytest.mark.parametrize("tamper", [
    "another model's graph", "no sidecar", "sidecar of another ORT", "garbled sidecar", "graph cut short",
])
def test_a_cached_graph_that_is_not_this_models_is_not_run_but_rebuilt(default_card, fresh_cache, tmp_path, tamper):
    """A graph under this model's name is used only if its sidecar says it was built from this model."""
    cached = optimized_path(default_card, onnxruntime.__version__)
    sidecar = sidecar_path(cached)
    if tamper == "another model's graph":
        # A real, loadable graph of a different network, with a sidecar copied from this model's.
        other = Catalogue().get("bass-unet")
        open_session(default_card, "cpu")
        recorded = json.loads(sidecar.read_text())
        cached.write_bytes(other.onnx_path.read_bytes())
        sidecar.write_text(json.dumps(dict(recorded, source_sha256=other.sha256, graph_bytes=cached.stat().st_size)))
    else:
        open_session(default_card, "cpu")
        recorded = json.loads(sidecar.read_text())
        if tamper == "no sidecar":
            sidecar.unlink()
        elif tamper == "sidecar of another ORT":
            sidecar.write_text(json.dumps(dict(recorded, ort_version="1.0.0")))
        elif tamper == "garbled sidecar":
            sidecar.write_text('{"model": 3')
        else:
            cached.write_bytes(cached.read_bytes()[: recorded["graph_bytes"] // 2])
    tampered = cached.read_bytes()
    session = open_session(default_card, "cpu")
    np.testing.assert_array_equal(masks(session, default_card), masks(plain_session(default_card), default_card))
    assert cached.read_bytes() != tampered
    assert json.loads(sidecar.read_text())["source_sha256"] == default_card.sha256


def test_files_of_other_versions_go_and_other_models_files_stay(default_card, fresh_cache):
    stale = fresh_cache / f"{default_card.id}-{'0' * 16}-ort1.0.0-abcdef012345.onnx"
    longer_id = fresh_cache / f"{default_card.id}-large-{'0' * 16}-ort1.0.0-abcdef012345.onnx"
    for path in (stale, longer_id):
        path.write_bytes(b"x")
    open_session(default_card, "cpu")
    assert not stale.exists() and longer_id.exists()


def test_an_unwritable_cache_only_costs_speed(default_card, fresh_cache):
    fresh_cache.rmdir()
    fresh_cache.write_bytes(b"a file where the cache folder should be")
    try:
        session = open_session(default_card, "cpu")
        assert masks(session, default_card).shape == (1, 2, 2, 64, default_card.bins)
    finally:
        fresh_cache.unlink()
        fresh_cache.mkdir()


def test_auto_without_an_nvidia_driver_goes_straight_to_the_cached_cpu_graph(default_card, fresh_cache):
    from stemdesk.separate import nvidia_driver_present

    if nvidia_driver_present():
        pytest.skip("an NVIDIA driver is present: auto may run on the GPU here")
    session = open_session(default_card, "auto")
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert optimized_path(default_card, onnxruntime.__version__).is_file()


def test_a_mask_model_asking_for_int8_convolutions_is_refused_in_one_line(default_card, fresh_cache):
    """Only a model kind that can make calibration inputs (hybrid) supplies them; a mask card cannot use the field."""
    from stemdesk.errors import StemdeskError

    card = default_card.model_copy(update={"cpu_int8_convolutions": "Conv"})
    card._card_path = default_card.card_path
    with pytest.raises(StemdeskError, match="int8 convolutions .* not supported for its kind") as raised:
        open_session(card, "cpu")
    assert "\n" not in str(raised.value) and not any(fresh_cache.iterdir())


def test_a_model_without_attention_asking_to_fuse_it_is_refused_in_one_line(default_card, fresh_cache):
    from stemdesk.errors import StemdeskError

    card = default_card.model_copy(update={"cpu_fused_attention": True})
    card._card_path = default_card.card_path
    with pytest.raises(StemdeskError, match="no attention that cpu_fused_attention can fuse") as raised:
        open_session(card, "cpu")
    assert "\n" not in str(raised.value) and not any(fresh_cache.iterdir())
