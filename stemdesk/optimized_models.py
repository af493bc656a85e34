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
its name and sidecar say so. A card naming convolutions to run in int8
(``cpu_int8_convolutions``) has them quantised statically after that, their
activation ranges calibrated on inputs its model kind supplies (a few runs of
the demo song: for htdemucs about two minutes on a loaded 2-core CPU, once),
on x86 CPUs with VNNI only: without it ORT's uint8-by-int8 kernels add pairs
of products in 16 bits, which can saturate, and that path was never measured.
A card asking for fused attention (``cpu_fused_attention``) has its attention
rewritten last (:mod:`stemdesk.attention_fusion`: ORT's quantisers cannot type
the graph after its fused op).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError

from .errors import StemdeskError
from .models import CardSchema, ModelCard, Sha256

#: The inputs of a few typical runs of a model (input name -> array), made afresh per call:
#: what the ranges of its int8 convolutions' activations are calibrated on.
Calibration = Callable[[], Iterable[dict]]


class CachedGraph(CardSchema):
    """The sidecar of a cached optimised graph: what it was built from, and how big it was written."""

    model: str
    source_sha256: Sha256
    ort_version: str
    cpu: str
    cpu_weights: str = "float32"
    cpu_int8_convolutions: str | None = None
    cpu_fused_attention: bool = False
    graph_bytes: int = Field(ge=1)

    @classmethod
    def expected(cls, card: ModelCard, ort_version: str, graph: Path) -> CachedGraph:
        return cls(model=card.id, source_sha256=card.sha256, ort_version=ort_version, cpu=cpu_signature(),
                   cpu_weights=card.cpu_weights, cpu_int8_convolutions=int8_convolutions(card),
                   cpu_fused_attention=card.cpu_fused_attention, graph_bytes=graph.stat().st_size)


def cache_folder() -> Path:
    """Where optimised models are kept: the user's cache folder (``$XDG_CACHE_HOME`` on Linux)."""
    return platformdirs.user_cache_path("stemdesk") / "optimized-models"


def int8_convolutions(card: ModelCard) -> str | None:
    """The card's ``cpu_int8_convolutions`` where this CPU runs them as measured (x86 with VNNI), else None."""
    return card.cpu_int8_convolutions if card.cpu_int8_convolutions and cpu_has_vnni() else None


def cpu_has_vnni() -> bool:
    """Whether the CPU has x86's 8-bit dot-product instructions (AVX-512 VNNI or AVX-VNNI), per ``/proc/cpuinfo``."""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return bool({"avx512_vnni", "avx_vnni"} & set(line.split()))
    return False


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
    if int8_convolutions(card):
        weights += "-conv" + hashlib.sha256(card.cpu_int8_convolutions.encode()).hexdigest()[:8]
    if card.cpu_fused_attention:
        weights += "-mha"
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


def open_cpu_session(card: ModelCard, make_options, ort, calibration: Calibration | None = None):
    """An ORT CPU session on ``card``'s model, from its optimised form when one is cached.

    ``make_options()`` returns fresh ``SessionOptions`` (threads, allocators); ``ort`` is
    the imported onnxruntime module. ``calibration``: the model kind's typical inputs,
    needed (only) to build the graph of a card with int8 convolutions. Errors from the
    model itself propagate as ORT raises them (the caller words them).
    """
    if card.cpu_int8_convolutions and calibration is None:
        raise StemdeskError(f"Model {card.id!r}: int8 convolutions (cpu_int8_convolutions) are not supported for its kind.")
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
    with ExitStack() as building:
        try:
            source = building.enter_context(_cpu_graph(card, cached.parent if temp else None, calibration))
        except StemdeskError:  # a card that does not fit its graph: nothing is left in the cache
            if temp:
                _remove(temp)
            raise
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
def _cpu_graph(card: ModelCard, folder: Path | None, calibration: Calibration | None) -> Iterator[Path]:
    """The graph to build the CPU session from: the card's, or its quantised or fused form in a temporary file.

    ``folder``: where to write that file (None: the system's temporary folder).
    """
    if card.cpu_weights == "float32" and not int8_convolutions(card) and not card.cpu_fused_attention:
        yield card.onnx_path
        return
    with tempfile.TemporaryDirectory(dir=folder, prefix=".quantising-") as work, _quiet_quantiser():
        source = card.onnx_path
        if card.cpu_weights == "int8":
            source = _quantise_products(source, Path(work) / f"products-{source.name}")
        if int8_convolutions(card):
            source = _quantise_convolutions(card, source, Path(work) / f"convolutions-{source.name}", calibration)
        if card.cpu_fused_attention:
            source = _fuse_attention(card, source, Path(work) / f"attention-{source.name}")
        yield source


def _quantise_products(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of ``source``'s MatMul and Gemm weights, written to ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only products with a constant operand: attention's query-key and
    # value products multiply two activations and stay in float32.
    quantize_dynamic(source, target, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8,
                     extra_options={"MatMulConstBOnly": True})
    return target


def _quantise_convolutions(card: ModelCard, source: Path, target: Path, calibration: Calibration) -> Path:
    """Static int8 quantisation of the convolutions of ``source`` that the card names, written to ``target``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    pattern = re.compile(card.cpu_int8_convolutions)
    graph = onnx.load(source, load_external_data=False).graph
    chosen = [node.name for node in graph.node if node.op_type == "Conv" and pattern.search(node.name)]
    if not chosen:
        raise StemdeskError(f"Model {card.id!r}: no convolution of its graph matches cpu_int8_convolutions.")

    class Runs(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration())

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    # The setting measured on htdemucs (models/MODELS.md): one weight scale per output
    # channel, asymmetric uint8 activations (ORT's fast u8s8 kernels), min-max ranges.
    quantize_static(source, target, Runs(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                    nodes_to_quantize=chosen, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": False})
    return target


def _fuse_attention(card: ModelCard, source: Path, target: Path) -> Path:
    """``source`` with its attention as ORT's fused kernel, written to ``target``."""
    from .attention_fusion import fuse_attention

    if not fuse_attention(source, target):
        raise StemdeskError(f"Model {card.id!r}: its graph has no attention that cpu_fused_attention can fuse.")
    return target


@contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """Hide what ORT's quantiser logs to the root logger while it runs."""
    root = logging.getLogger()
    root.addFilter(_quantiser_advice)
    try:
        yield
    finally:
        root.removeFilter(_quantiser_advice)


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
