"""ONNX Runtime's optimised form of each model, kept between runs so that CPU sessions open fast.

Opening a CPU session makes ORT cast the fp16-stored weights to float32, fold and
fuse nodes and rewrite the convolutions into its blocked CPU layout (NCHWc): most of
the 0.3-0.8 s a session of Spleeter's model takes to open, paid again by every
``stemdesk separate`` and for each of the band preset's five models. ORT can save the
graph it ends up with; loaded with its optimisers off, that file opens several times
faster (Spleeter's model on a 2-core AMD EPYC: 0.04-0.07 s against 0.3-0.5 s; the band
preset's five sessions 1.0 s against 2.1-2.2 s, from a fresh process) and computes the
same outputs, bit for bit.

The saved graph is specific to the CPU (the blocked layout follows its vector width)
and to the ORT version, so its name holds both, with the model's sha256, and a
sidecar ``<name>.json`` (:class:`CachedGraph`) records them in full with the graph's
size: a graph is used only when its sidecar says it was built from this very model
by this ORT on this CPU, so a file copied, renamed or cut short is not run in the
model's place. A file that does not match or does not load is deleted and rebuilt;
a cache folder that cannot be written only means sessions open at the usual speed.

A card asking for int8 weights on the CPU (``cpu_weights``) has its graph quantised
first (ONNX Runtime's dynamic quantisation of MatMul and Gemm weights, a few seconds
for htdemucs); the cached graph is then the optimised form of the quantised one, and
its name and sidecar say so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError

from .models import CardSchema, ModelCard, Sha256


class CachedGraph(CardSchema):
    """The sidecar of a cached optimised graph: what it was built from, and how big it was written."""

    model: str
    source_sha256: Sha256
    ort_version: str
    cpu: str
    cpu_weights: str = "float32"
    graph_bytes: int = Field(ge=1)

    @classmethod
    def expected(cls, card: ModelCard, ort_version: str, graph: Path) -> CachedGraph:
        return cls(model=card.id, source_sha256=card.sha256, ort_version=ort_version, cpu=cpu_signature(),
                   cpu_weights=card.cpu_weights, graph_bytes=graph.stat().st_size)


def cache_folder() -> Path:
    """Where optimised models are kept: the user's cache folder (``$XDG_CACHE_HOME`` on Linux)."""
    return platformdirs.user_cache_path("stemdesk") / "optimized-models"


def cpu_signature() -> str:
    """A short hash of what the optimised graph depends on: the machine, its CPU and its features."""
    described = [platform.machine(), platform.processor()]
    with suppress(OSError):
        # Linux: the model name and the flags (AVX2, AVX-512...) of the first core.
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags", "Features")):
                described.append(line)
            if not line.strip() and len(described) > 2:
                break
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:12]


def optimized_path(card: ModelCard, ort_version: str) -> Path:
    """The cache file for ``card`` under this ORT version on this CPU."""
    weights = "" if card.cpu_weights == "float32" else f"-{card.cpu_weights}"
    return cache_folder() / f"{card.id}-{card.sha256[:16]}{weights}-ort{ort_version}-{cpu_signature()}.onnx"


def sidecar_path(cached: Path) -> Path:
    """Where the :class:`CachedGraph` of the graph ``cached`` is kept."""
    return cached.with_suffix(".json")


def _belongs_to(cached: Path, card: ModelCard, ort_version: str) -> bool:
    """Whether the sidecar of ``cached`` says it is this model's graph, as written."""
    try:
        recorded = CachedGraph.model_validate_json(sidecar_path(cached).read_bytes())
        return recorded == CachedGraph.expected(card, ort_version, cached)
    except (OSError, ValidationError):
        return False


def open_cpu_session(card: ModelCard, make_options, ort):
    """An ORT CPU session on ``card``'s model, from its optimised form when one is cached.

    ``make_options()`` returns fresh ``SessionOptions`` (threads, allocators); ``ort`` is
    the imported onnxruntime module. Errors from the model itself propagate as ORT
    raises them (the caller words them).
    """
    providers = ["CPUExecutionProvider"]
    cached = optimized_path(card, ort.__version__)
    if cached.is_file() and not _belongs_to(cached, card, ort.__version__):
        _remove(cached)
    if cached.is_file():
        options = make_options()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), sess_options=options, providers=providers)
        except Exception:  # a damaged file: rebuild it below
            _remove(cached)
    temp = _reserve_temp(cached)
    with _cpu_graph(card, cached.parent if temp else None) as source:
        if temp is None:
            return ort.InferenceSession(str(source), sess_options=make_options(), providers=providers)
        options = make_options()
        options.optimized_model_filepath = str(temp)
        try:
            session = ort.InferenceSession(str(source), sess_options=options, providers=providers)
        except Exception:
            # Perhaps only the saving failed (disk full); the model's own errors recur here.
            _remove(temp)
            return ort.InferenceSession(str(source), sess_options=make_options(), providers=providers)
    try:
        os.replace(temp, cached)
        _write_sidecar(cached, CachedGraph.expected(card, ort.__version__, cached))
    except OSError:
        _remove(temp)
        _remove(cached)
    else:
        _remove_stale(card, keep=cached)
    return session


@contextmanager
def _cpu_graph(card: ModelCard, folder: Path | None) -> Iterator[Path]:
    """The graph to build the CPU session from: the card's, or its int8 form in a temporary file.

    ``folder``: where to write that file (None: the system's temporary folder).
    """
    if card.cpu_weights == "float32":
        yield card.onnx_path
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=folder, prefix=".quantising-") as work:
        quantised = Path(work) / card.onnx_path.name
        # Only products with a constant operand: attention's query-key and
        # value products multiply two activations and stay in float32.
        root = logging.getLogger()
        root.addFilter(_quantiser_advice)
        try:
            quantize_dynamic(card.onnx_path, quantised, op_types_to_quantize=["MatMul", "Gemm"],
                             weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True})
        finally:
            root.removeFilter(_quantiser_advice)
        yield quantised


def _quantiser_advice(record: logging.LogRecord) -> bool:
    """Drop what ORT's quantiser logs to the root logger (advice on pre-processing, meant for its developers)."""
    return "onnxruntime" not in Path(record.pathname).parts


def _write_sidecar(cached: Path, recorded: CachedGraph) -> None:
    """Write ``recorded`` beside ``cached`` through a temporary name (OSError if it cannot be)."""
    sidecar = sidecar_path(cached)
    temp = sidecar.with_name(f".{sidecar.name}.{secrets.token_hex(4)}.part")
    try:
        temp.write_text(recorded.model_dump_json(), encoding="utf-8")
        os.replace(temp, sidecar)
    finally:
        _remove(temp)


def _reserve_temp(cached: Path) -> Path | None:
    """A fresh temporary name beside ``cached`` (which ORT writes, then we rename); None if unwritable."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temp = cached.with_name(f".{cached.stem}.{secrets.token_hex(4)}.part")
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError:
        return None
    return temp


def _remove_stale(card: ModelCard, keep: Path) -> None:
    """Delete this model's files (graphs and sidecars) cached for other versions of it, of ORT or of the CPU."""
    ours = re.compile(re.escape(card.id) + r"-[0-9a-f]{16}-ort[^/]+\.(onnx|json)")
    for path in keep.parent.iterdir():
        if path not in (keep, sidecar_path(keep)) and ours.fullmatch(path.name):
            _remove(path)


def _remove(path: Path) -> None:
    with suppress(OSError):
        path.unlink()
    if path.suffix == ".onnx":
        with suppress(OSError):
            sidecar_path(path).unlink()
