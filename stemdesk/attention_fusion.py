"""A PyTorch-exported graph's attention rewritten as ONNX Runtime's fused ``MultiHeadAttention``.

PyTorch's exporter writes each ``nn.MultiheadAttention`` product as plain ops on
``(batch, heads, length, head_size)`` tensors::

    scores = MatMul(Mul(q, c_q), Mul(Transpose(k, perm=[0, 1, 3, 2]), c_k))   # (B, N, S, L)
    out    = MatMul(Softmax(scores, axis=-1), v)                              # (B, N, S, H)

which materialises the scores and their softmax: for htdemucs 8 x 2688^2 floats,
231 MB each, twice. ORT's CPU ``MultiHeadAttention`` (domain ``com.microsoft``)
computes the same in blocks that stay in the cache, given query, key and value as
``(B, length, N * H)``. The rewrite feeds it the exporter's own scaled query and
key (so the op's scale is 1 and any scaling the graph chose is kept), moves the
layouts with Transposes and Reshapes (small: one row per position), and hands its
output back in the layout ``out`` had. Results agree with the original graph to
float rounding (htdemucs: above 115 dB).

ONNX's shape inference cannot type what follows the contrib op, and ORT's
quantisers need those types: so this is the last rewrite of a graph.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FUSED_DOMAIN = "com.microsoft"


@dataclass(frozen=True)
class _Attention:
    """One exported attention product: the nodes it replaces and what the fused op needs."""

    scaled_query: str  # (B, N, S, H)
    scaled_key_transposed: str  # (B, N, H, L)
    value: str  # (B, N, L, H)
    output: str  # (B, N, S, H)
    heads: int
    replaced: tuple  # the NodeProtos that the fused op makes unneeded


def fuse_attention(source: Path, target: Path) -> int:
    """Write ``source`` to ``target`` with every attention of the exporter's form fused; return how many.

    An attention is recognised only where nothing else reads its scores or
    their softmax and its head count is a constant of the graph (the Reshape
    that splits the query into heads). Nothing is written when none is found.
    """
    import onnx

    model = onnx.load(source)
    graph = model.graph
    found = _attentions(graph)
    if not found:
        return 0
    replaced = {id(node) for attention in found for node in attention.replaced}
    fused_at = {attention.output: attention for attention in found}
    nodes = []
    for node in graph.node:
        if id(node) not in replaced:
            nodes.append(node)
        elif node.output[0] in fused_at:  # where the last replaced node stood: its readers follow
            nodes.extend(_fused_nodes(fused_at[node.output[0]]))
    graph.initializer.append(onnx.numpy_helper.from_array(np.array([0, 0, -1], np.int64), "attention_fusion_merge_heads"))
    del graph.node[:]
    graph.node.extend(nodes)
    # Shapes inferred before the rewrite would outlive the tensors they describe.
    del graph.value_info[:]
    if not any(opset.domain == FUSED_DOMAIN for opset in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(FUSED_DOMAIN, 1))
    onnx.save(model, target)
    return len(found)


def _fused_nodes(attention: _Attention) -> list:
    """The nodes computing ``attention.output`` through one ``MultiHeadAttention``."""
    from onnx import helper

    name = f"/attention_fusion/{attention.output.strip('/').replace('/', '_')}"
    merge = "attention_fusion_merge_heads"

    def node(op, inputs, suffix, **attributes):
        return helper.make_node(op, inputs, [f"{name}/{suffix}"], name=f"{name}/{suffix}", **attributes)

    made = [
        # (B, N, S, H) -> (B, S, N, H) -> (B, S, N * H), and likewise for the key and value.
        node("Transpose", [attention.scaled_query], "query_by_position", perm=[0, 2, 1, 3]),
        node("Reshape", [f"{name}/query_by_position", merge], "query"),
        node("Transpose", [attention.scaled_key_transposed], "key_by_position", perm=[0, 3, 1, 2]),
        node("Reshape", [f"{name}/key_by_position", merge], "key"),
        node("Transpose", [attention.value], "value_by_position", perm=[0, 2, 1, 3]),
        node("Reshape", [f"{name}/value_by_position", merge], "value"),
        node("MultiHeadAttention", [f"{name}/query", f"{name}/key", f"{name}/value"], "attention",
             domain=FUSED_DOMAIN, num_heads=attention.heads, scale=1.0),
        # (B, S, N * H) -> (B, S, N, H) as the query was -> (B, N, S, H).
        node("Shape", [f"{name}/query_by_position"], "heads_shape"),
        node("Reshape", [f"{name}/attention", f"{name}/heads_shape"], "by_head"),
    ]
    made.append(helper.make_node("Transpose", [f"{name}/by_head"], [attention.output], name=f"{name}/output",
                                 perm=[0, 2, 1, 3]))
    return made


def _attentions(graph) -> list[_Attention]:
    """Every attention product of ``graph`` in the exporter's form (see the module's docstring)."""
    producer = {output: node for node in graph.node for output in node.output}
    readers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            readers[name].append(node)
    outputs = {output.name for output in graph.output}

    def only_reader(name: str):
        """The one node reading ``name``, or None (several, none, or a graph output)."""
        found = readers.get(name, [])
        return found[0] if len(found) == 1 and name not in outputs else None

    found = []
    for softmax in graph.node:
        if softmax.op_type != "Softmax" or _attribute(softmax, "axis", -1) not in (-1, 3):
            continue
        scores = producer.get(softmax.input[0])
        weighted = only_reader(softmax.output[0])
        if not (scores and scores.op_type == "MatMul" and only_reader(scores.output[0]) is softmax
                and weighted and weighted.op_type == "MatMul" and weighted.input[0] == softmax.output[0]):
            continue
        query, key = (producer.get(name) for name in scores.input)
        if not (query and key and query.op_type == key.op_type == "Mul"):
            continue
        transposed = producer.get(key.input[0])
        if not (transposed and transposed.op_type == "Transpose" and _attribute(transposed, "perm", None) == [0, 1, 3, 2]):
            continue
        heads = _head_count(graph, producer, query.input[0])
        if heads is None:
            continue
        found.append(_Attention(scaled_query=query.output[0], scaled_key_transposed=key.output[0],
                                value=weighted.input[1], output=weighted.output[0], heads=heads,
                                replaced=(scores, softmax, weighted)))
    return found


def _head_count(graph, producer: dict, query: str) -> int | None:
    """The heads of ``query`` (B, N, S, H): the second entry of the shape its Reshape was given, if a constant."""
    reshape = producer.get(query)
    if not (reshape and reshape.op_type == "Reshape"):
        return None
    shape = _constant(graph, producer, reshape.input[1])
    if shape is not None:
        return int(shape[1]) if shape.shape == (4,) and shape[1] > 0 else None
    concat = producer.get(reshape.input[1])
    if not (concat and concat.op_type == "Concat" and len(concat.input) == 4):
        return None
    heads = _constant(graph, producer, concat.input[1])
    return int(heads[0]) if heads is not None and heads.shape == (1,) and heads[0] > 0 else None


def _constant(graph, producer: dict, name: str) -> np.ndarray | None:
    """The value of ``name`` if an initializer or a Constant node holds it, else None."""
    from onnx import numpy_helper

    for initializer in graph.initializer:
        if initializer.name == name:
            return numpy_helper.to_array(initializer)
    node = producer.get(name)
    if node is not None and node.op_type == "Constant":
        value = next((a for a in node.attribute if a.name == "value"), None)
        return numpy_helper.to_array(value.t) if value is not None else None
    return None


def _attribute(node, name: str, default):
    """An INT or INTS attribute of ``node``."""
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            value = helper.get_attribute_value(attribute)
            return list(value) if isinstance(value, (list, tuple)) else value
    return default
