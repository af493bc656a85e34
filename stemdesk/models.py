"""Model cards (the JSON beside each ``.onnx``) of mask networks, and where models are installed.

The engine runs a model from its card alone: the card says how to compute the
spectrogram the network expects, which tensors go in and out and in which
axis order, and how to turn its output into masks. A new architecture needs a
new export with a card, not new engine code.

A card is checked field by field when it is read (a pydantic schema): a card
that would make the engine divide by zero, index past the spectrogram or run
the wrong tensors is refused with one line naming the file and the field.
Finding cards is :mod:`stemdesk.catalogue`'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import platformdirs
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from . import PROJECT_ROOT
from .errors import StemdeskError
from .validation import read_json, validated

if TYPE_CHECKING:
    from .catalogue import Catalogue

#: Axis names a card's tensor layouts may use.
AXES = ("batch", "stems", "channels", "frames", "bins")
#: What each tensor of a mask network may hold.
INPUT_HOLDS = ("magnitude",)
OUTPUT_HOLDS = ("mask", "magnitude")

#: A model id: also a file name in a model folder, so nothing that could point elsewhere.
ModelId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=100)]
Text = Annotated[str, Field(min_length=1)]
Sha256 = Annotated[str, BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
                   Field(pattern=r"^[0-9a-f]{64}$")]
OnnxFileName = Annotated[str, Field(pattern=r"^[^/\\]+\.onnx$")]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a regular expression ({error})") from None
    return pattern


#: A regular expression (Python's ``re``), checked when the card is read.
Pattern = Annotated[str, Field(min_length=1), AfterValidator(_compiles)]


def _unique_names(names: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {', '.join(names)}")
    return names


#: Stem names in output order: at least one, distinct, each usable as a file name.
StemNames = Annotated[tuple[ModelId, ...], Field(min_length=1), AfterValidator(_unique_names)]


def _split_layout(value):
    return tuple(axis.strip() for axis in value.split(",")) if isinstance(value, str) else value


Layout = Annotated[tuple[Literal[AXES], ...], BeforeValidator(_split_layout), AfterValidator(_unique_names)]


class CardSchema(BaseModel):
    """Common settings of every card schema: immutable, and no field it does not know (a typo
    in an optional field would otherwise fall back to its default without a word)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TensorSpec(CardSchema):
    """One network tensor: its ONNX name, axis order (e.g. ``batch,channels,frames,bins``) and what it holds."""

    name: Text
    layout: Layout
    holds: str


class Postfilter(CardSchema):
    """Post-processing of the masked stems: a multichannel Wiener filter of ``iterations`` EM steps."""

    type: Literal["wiener"]
    iterations: int = Field(default=1, ge=0, le=10)


class OnnxCard(CardSchema):
    """What every card of one ONNX network has: where it was read from, its network beside it,
    its identity for the stem cache, and loading and checking. Its kinds (:class:`ModelCard`,
    :class:`stemdesk.hybrid_card.HybridCard`) declare the fields ``id``, ``onnx`` and ``sha256``.

    ``cpu_weights``: ``"int8"`` runs the network on the CPU with the weights of
    its matrix products (MatMul and Gemm with a constant operand: a
    transformer's projections and feed-forward layers) quantised to int8, one
    scale per tensor, the activations quantised per run (ONNX Runtime's dynamic
    quantisation, done once when the CPU graph is first built and cached with
    it, :mod:`stemdesk.optimized_models`). Kept for a model only where its SDR
    stays within 0.2 dB of float32 (its MODELS.md entry says so). On a GPU the
    network always runs in float32.

    ``cpu_int8_convolutions``: a regular expression over the graph's ``Conv``
    node names; on the CPU the convolutions it finds (``re.search``) run in
    int8: per-channel int8 weights and uint8 activations, each activation's
    range the minimum and maximum it takes on a few segments of the bundled
    demo song run through the model as the engine feeds it (ONNX Runtime's
    static quantisation, QDQ form, which its CPU provider fuses into
    ``QLinearConv``). Calibrated once when the CPU graph is first built, and
    cached with it; x86 CPUs with VNNI only (elsewhere they stay float32), and
    only the model kinds that can make such inputs accept it. The same 0.2 dB
    rule applies.

    ``cpu_fused_attention``: true runs the network's attention (PyTorch's exported
    ``nn.MultiheadAttention`` products) on the CPU through ONNX Runtime's fused
    ``MultiHeadAttention`` kernel, which never holds the whole attention map
    (:mod:`stemdesk.attention_fusion`): rewritten once when the CPU graph is
    first built, after any quantisation, and cached with it. The outputs change
    by float rounding only; a graph with no such attention is refused.
    """

    cpu_weights: Literal["float32", "int8"] = "float32"
    cpu_int8_convolutions: Pattern | None = None
    cpu_fused_attention: bool = False

    _card_path: Path | None = PrivateAttr(default=None)

    @property
    def card_path(self) -> Path | None:
        """The file this card was read from (None for a card made in memory)."""
        return self._card_path

    @property
    def onnx_path(self) -> Path:
        """The network beside the card."""
        return (self._card_path.parent if self._card_path else Path.cwd()) / self.onnx

    @property
    def identity(self) -> str:
        """Digest of every field that determines the stems: all but the descriptive ones."""
        return card_identity(self, exclude={"name", "license", "source", "metrics"})

    @classmethod
    def load(cls, card_path: str | os.PathLike) -> OnnxCard:
        """Read and check a card; raise StemdeskError naming the file and field if it is unusable."""
        card_path = Path(card_path)
        return cls.from_json(read_json(card_path, "Model card"), card_path)

    @classmethod
    def from_json(cls, raw, card_path: Path, catalogue: Catalogue | None = None) -> OnnxCard:
        """A card from the JSON read from ``card_path``.

        Found through a ``catalogue``, a card whose network is not beside it is refused
        (an installed model that cannot run); its bytes are checked when it is opened.
        """
        card = validated(cls, raw, card_path, "Model card")
        card._card_path = Path(card_path)
        if catalogue is not None and not card.onnx_path.is_file():
            raise StemdeskError(f"Model file missing for {card.id!r}: {card.onnx_path}")
        return card

    def verify(self) -> None:
        """Check that the .onnx exists and its bytes match the card's sha256."""
        verify_file(self.onnx_path, self.sha256, self.id)


class ModelCard(OnnxCard):
    """Everything the engine needs to run one ONNX mask-estimating separation model."""

    kind: Literal["mask"] = "mask"
    id: ModelId
    name: Text
    version: Text
    architecture: Text
    stems: Annotated[StemNames, Field(min_length=2)]
    sample_rate: int = Field(ge=1000, le=768_000)
    channels: Literal[1, 2]
    n_fft: int = Field(ge=16, le=65_536)
    hop_length: int = Field(ge=1)
    window: Literal["hann"]
    bins: int = Field(ge=1)
    segment_frames: int = Field(ge=2, le=1_000_000)
    frame_multiple: int = Field(default=1, ge=1)
    input: TensorSpec
    output: TensorSpec
    mask_power: float = Field(gt=0, allow_inf_nan=False)
    onnx: OnnxFileName
    sha256: Sha256
    license: Text
    source: str
    metrics: dict = Field(default_factory=dict)
    postfilter: Postfilter | None = None

    @model_validator(mode="after")
    def _fits_together(self) -> ModelCard:
        if self.n_fft % self.hop_length:
            raise ValueError(f"hop_length {self.hop_length} must divide n_fft {self.n_fft}")
        if self.bins > self.n_fft // 2 + 1:
            raise ValueError(f"bins {self.bins} exceeds the {self.n_fft // 2 + 1} bins of n_fft {self.n_fft}")
        if self.segment_frames % self.frame_multiple:
            raise ValueError(f"segment_frames {self.segment_frames} is not a multiple of frame_multiple {self.frame_multiple}")
        if set(self.input.layout) != {"batch", "channels", "frames", "bins"}:
            raise ValueError(f"input layout {','.join(self.input.layout)} needs batch,channels,frames,bins")
        if set(self.output.layout) != {"batch", "stems", "channels", "frames", "bins"}:
            raise ValueError(f"output layout {','.join(self.output.layout)} needs batch,stems,channels,frames,bins")
        if self.input.holds not in INPUT_HOLDS:
            raise ValueError(f"input holds {self.input.holds!r}, expected one of {', '.join(INPUT_HOLDS)}")
        if self.output.holds not in OUTPUT_HOLDS:
            raise ValueError(f"output holds {self.output.holds!r}, expected one of {', '.join(OUTPUT_HOLDS)}")
        return self

    @property
    def chunk_samples(self) -> int:
        """Samples whose centred STFT has exactly ``segment_frames`` frames."""
        return (self.segment_frames - 1) * self.hop_length


def card_identity(card: BaseModel, exclude: set[str]) -> str:
    """SHA-256 of a card's fields but ``exclude``, as canonical JSON (key order does not matter)."""
    fields = card.model_dump(mode="json", exclude=exclude)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (OSError if unreadable)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, sha256: str, model_id: str) -> None:
    """StemdeskError unless ``path`` exists and its bytes have digest ``sha256``."""
    try:
        actual = file_sha256(path)
    except OSError:
        raise StemdeskError(f"Model file missing for {model_id!r}: {path}") from None
    if actual != sha256:
        raise StemdeskError(f"Model file {path} is corrupt (sha256 differs from its card); reinstall it.")


def model_dirs() -> list[Path]:
    """Folders searched for model cards, first match wins.

    ``$STEMDESK_MODEL_PATH`` (os.pathsep-separated), the user's data folder
    (:func:`user_model_dir`, where installs go), then the models shipped with stemdesk.
    """
    dirs = [Path(p) for p in os.environ.get("STEMDESK_MODEL_PATH", "").split(os.pathsep) if p]
    dirs.append(user_model_dir())
    dirs.append(SHIPPED_MODEL_DIR)
    return dirs


def user_model_dir() -> Path:
    """The user's own model folder, e.g. ``~/.local/share/stemdesk/models`` on Linux."""
    return platformdirs.user_data_path("stemdesk") / "models"


SHIPPED_MODEL_DIR = PROJECT_ROOT / "models"
#: Cards of the models stemdesk installs but does not ship (``stemdesk models install``), ``<id>.json``.
CARD_TEMPLATES = PROJECT_ROOT / "resources" / "cards"
DEFAULT_MODEL = "spleeter-2stems"
