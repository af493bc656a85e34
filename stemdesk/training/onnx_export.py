"""Export a mask network to ONNX together with its model card, reproducibly and atomically.

Any architecture goes through `export_onnx`: the card (a JSON-able dict, see DESIGN.md)
names the input and output tensors and their layouts; the exporter names the graph's
tensors and dynamic axes after it, strips everything that ties the file to this
machine (source paths, stack traces), optionally stores the weights in half precision
and writes ``<id>.onnx`` and ``<id>.json`` side by side.
"""

import copy
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

#: Opset of every exported graph: ONNX Runtime supports it since 1.14.
OPSET = 18

_WEIGHTS_DTYPES = {"float16": np.float16, "float32": np.float32}


def export_onnx(
    module: torch.nn.Module,
    example_input: torch.Tensor,
    card: Mapping,
    out_dir: Path,
    weights_dtype: str = "float16",
    dynamic_dims: Mapping[str, int] | None = None,
) -> tuple[Path, Path]:
    """Write ``<card id>.onnx`` and ``<card id>.json`` into ``out_dir``; return both paths.

    Args:
        module: the network in eval mode; one float32 tensor in, one out.
        example_input: a float32 tensor laid out as ``card["input"]["layout"]``
            (comma-separated dimension names, e.g. ``batch,channels,frames,bins``).
        card: the model card; ``id``, ``input.name``/``layout`` and ``output.name`` are
            read. The written card is a copy with ``onnx`` (file name) and ``sha256``
            (of the .onnx bytes) filled in.
        out_dir: destination folder (created if missing). Each file is written under a
            temporary name in that folder and renamed into place.
        weights_dtype: "float16" stores every float32 weight of two or more dimensions
            as float16 followed by a Cast back to float32, halving the file; ONNX
            Runtime folds the casts when it loads the model, so it still computes in
            float32. Vectors (biases, normalisation statistics) stay float32: they cost
            nothing and variances lose the most in half precision. "float32" keeps all.
        dynamic_dims: input dimension name -> the multiple its size must be (1 for any
            size). Defaults to ``{"batch": 1}``. Dynamic output dimensions follow.

    Submodules with a ``prepare_for_onnx()`` method are exported as that method leaves
    them (a layer recast into operators ONNX Runtime runs better, say); ``module``
    itself is left as it was.

    Raises ValueError for a module in training mode or an unknown dtype or dimension.
    """
    if module.training:
        raise ValueError("export a module in eval mode: training mode would bake in dropout and batch statistics")
    if weights_dtype not in _WEIGHTS_DTYPES:
        raise ValueError(f"weights_dtype must be one of {sorted(_WEIGHTS_DTYPES)}")
    input_name, output_name = card["input"]["name"], card["output"]["name"]
    input_layout = card["input"]["layout"].split(",")
    output_layout = card["output"]["layout"].split(",")
    dynamic_dims = {"batch": 1} if dynamic_dims is None else dict(dynamic_dims)
    unknown = set(dynamic_dims) - set(input_layout)
    if unknown:
        raise ValueError(f"dynamic dimensions {sorted(unknown)} are not in the input layout {input_layout}")

    shapes = {}
    for name, multiple in dynamic_dims.items():
        # A derived dimension tells torch.export that only multiples are valid sizes.
        shapes[input_layout.index(name)] = (
            torch.export.Dim(name, min=1) if multiple == 1 else multiple * torch.export.Dim(f"{name}_over_{multiple}", min=1)
        )
    module = copy.deepcopy(module)
    for submodule in module.modules():
        if hasattr(submodule, "prepare_for_onnx"):
            submodule.prepare_for_onnx()
    program = torch.onnx.export(
        module,
        (example_input,),
        dynamo=True,
        opset_version=OPSET,
        input_names=[input_name],
        output_names=[output_name],
        dynamic_shapes=(shapes,),
        external_data=False,
        verbose=False,
    )
    model = program.model_proto
    _strip_provenance(model)
    _name_dynamic_dims(model.graph.input[0], input_layout, dynamic_dims)
    _name_dynamic_dims(model.graph.output[0], output_layout, dynamic_dims)
    if weights_dtype != "float32":
        _store_weights_as(model, _WEIGHTS_DTYPES[weights_dtype])
    onnx.checker.check_model(model)
    onnx_bytes = model.SerializeToString(deterministic=True)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{card['id']}.onnx"
    card_path = out_dir / f"{card['id']}.json"
    written_card = dict(card)
    written_card["onnx"] = onnx_path.name
    written_card["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    write_atomically(onnx_path, onnx_bytes)
    write_atomically(card_path, (json.dumps(written_card, indent=2) + "\n").encode())
    return onnx_path, card_path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    A crash leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        # mkstemp creates the file private (0600); a model or card is meant to be shared.
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        os.unlink(temp_name)
        raise


def _strip_provenance(model: onnx.ModelProto) -> None:
    """Drop the exporter's per-node annotations: they hold absolute source paths and
    stack traces, which would make the bytes differ from one checkout to another."""
    graph = model.graph
    for proto in [*graph.node, *graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        del proto.metadata_props[:]
        proto.doc_string = ""
    del graph.metadata_props[:]
    graph.doc_string = ""
    del model.metadata_props[:]
    model.doc_string = ""


def _name_dynamic_dims(value: onnx.ValueInfoProto, layout: list[str], dynamic_dims: Mapping[str, int]) -> None:
    """Give the graph's dynamic dimensions their layout names ("batch", "frames")
    instead of the exporter's symbols ("64*frames_over_64")."""
    dims = value.type.tensor_type.shape.dim
    for name, dim in zip(layout, dims):
        if name in dynamic_dims:
            dim.dim_param = name


def _store_weights_as(model: onnx.ModelProto, numpy_dtype: type) -> None:
    """Replace each float32 initializer of two or more dimensions by a ``numpy_dtype``
    copy plus a Cast node that restores the original name and dtype for its readers."""
    graph = model.graph
    casts = []
    for initializer in graph.initializer:
        if initializer.data_type != TensorProto.FLOAT or len(initializer.dims) < 2:
            continue
        name = initializer.name
        stored_name = f"{name}.{np.dtype(numpy_dtype).name}"
        stored = numpy_helper.from_array(numpy_helper.to_array(initializer).astype(numpy_dtype), stored_name)
        initializer.CopyFrom(stored)
        casts.append(onnx.helper.make_node("Cast", [stored_name], [name], name=f"restore_{name}", to=TensorProto.FLOAT))
    # Nodes must stay topologically sorted: the casts feed everything, so they go first.
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
