"""htdemucs' attention as ORT's fused MultiHeadAttention: every product found, the outputs those of the exported graph."""

from collections import Counter

import numpy as np
import pytest

pytest.importorskip("demucs")

from tests.training.conftest import tiny_htdemucs  # noqa: E402


def sdr(reference, estimate):
    return 10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / np.sum((reference - estimate.astype(np.float64)) ** 2))


@pytest.fixture(scope="module")
def two_layer_graph(tmp_path_factory):
    """A tiny HTDemucs whose transformer has a self-attention and a cross-attention layer per branch, exported."""
    from stemdesk.training.htdemucs import export_graph

    path = tmp_path_factory.mktemp("two-layer") / "two-layer.onnx"
    export_graph(tiny_htdemucs(seed=1, t_layers=2), path)
    return path


def run(path, feeds):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_self_and_cross_attention_are_fused_and_compute_the_same(two_layer_graph, tmp_path):
    import onnx
    import onnxruntime

    from stemdesk.attention_fusion import fuse_attention

    fused = tmp_path / "fused.onnx"
    original_ops = Counter(node.op_type for node in onnx.load(two_layer_graph).graph.node)
    assert original_ops["Softmax"] == 4  # two branches, each a self- and a cross-attention
    assert fuse_attention(two_layer_graph, fused) == 4
    ops = Counter(node.op_type for node in onnx.load(fused).graph.node)
    assert ops["MultiHeadAttention"] == 4 and ops["Softmax"] == 0
    assert ops["MatMul"] == original_ops["MatMul"] - 8  # both products of each attention
    inputs = onnxruntime.InferenceSession(str(two_layer_graph), providers=["CPUExecutionProvider"]).get_inputs()
    rng = np.random.default_rng(0)
    feeds = {tensor.name: rng.standard_normal(tensor.shape).astype(np.float32) for tensor in inputs}
    for expected, actual in zip(run(two_layer_graph, feeds), run(fused, feeds), strict=True):
        assert expected.shape == actual.shape
        assert sdr(expected, actual) > 100  # float rounding only


def test_a_graph_without_attention_is_left_alone(tmp_path, default_card):
    from stemdesk.attention_fusion import fuse_attention

    target = tmp_path / "fused.onnx"
    assert fuse_attention(default_card.onnx_path, target) == 0
    assert not target.exists()
