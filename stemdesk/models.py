"""Model cards (the JSON beside each ``.onnx``) and the repository of installed models.

The engine runs a model from its card alone: the card says how to compute the
spectrogram the network expects, which tensors go in and out and in which
axis order, and how to turn its output into masks. A new architecture needs a
new export with a card, not new engine code.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from . import PROJECT_ROOT
from .errors import StemdeskError

#: Axis names a card's tensor layouts may use.
AXES = {"batch", "stems", "channels", "frames", "bins"}
INPUT_HOLDS = {"magnitude"}
OUTPUT_HOLDS = {"mask", "magnitude"}
POSTFILTERS = {"wiener"}


@dataclass(frozen=True)
class TensorSpec:
    """One network tensor: its ONNX name, axis order and what it holds."""

    name: str
    layout: tuple[str, ...]
    holds: str


@dataclass(frozen=True)
class ModelCard:
    """Everything the engine needs to run one ONNX separation model."""

    id: str
    name: str
    version: str
    architecture: str
    stems: tuple[str, ...]
    sample_rate: int
    channels: int
    n_fft: int
    hop_length: int
    window: str
    bins: int
    segment_frames: int
    frame_multiple: int
    input: TensorSpec
    output: TensorSpec
    mask_power: float
    onnx_path: Path
    sha256: str
    license: str
    source: str
    metrics: dict = field(default_factory=dict)
    #: Post-processing of the masked stems, e.g. ``{"type": "wiener", "iterations": 1}``.
    postfilter: dict | None = None
    card_path: Path | None = None

    @property
    def chunk_samples(self) -> int:
        """Samples whose centred STFT has exactly ``segment_frames`` frames."""
        return (self.segment_frames - 1) * self.hop_length

    @classmethod
    def load(cls, card_path: str | os.PathLike) -> ModelCard:
        """Read and check a card; raise StemdeskError naming the file if it is unusable."""
        card_path = Path(card_path)
        try:
            raw = json.loads(card_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StemdeskError(f"Model card not found: {card_path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StemdeskError(f"Model card {card_path} is not valid JSON: {error}") from None
        try:
            return cls._from_dict(raw, card_path)
        except (KeyError, TypeError, ValueError) as error:
            raise StemdeskError(f"Model card {card_path} is invalid: {error}") from None

    @classmethod
    def _from_dict(cls, raw: dict, card_path: Path) -> ModelCard:
        if not isinstance(raw, dict):
            raise TypeError("top level must be an object")
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise KeyError(f"missing {', '.join(missing)}")
        card = cls(
            id=str(raw["id"]),
            name=str(raw["name"]),
            version=str(raw["version"]),
            architecture=str(raw["architecture"]),
            stems=tuple(str(stem) for stem in raw["stems"]),
            sample_rate=int(raw["sample_rate"]),
            channels=int(raw["channels"]),
            n_fft=int(raw["n_fft"]),
            hop_length=int(raw["hop_length"]),
            window=str(raw["window"]),
            bins=int(raw["bins"]),
            segment_frames=int(raw["segment_frames"]),
            frame_multiple=int(raw.get("frame_multiple", 1)),
            input=_tensor_spec(raw["input"], INPUT_HOLDS),
            output=_tensor_spec(raw["output"], OUTPUT_HOLDS),
            mask_power=float(raw["mask_power"]),
            onnx_path=card_path.parent / str(raw["onnx"]),
            sha256=str(raw["sha256"]).lower(),
            license=str(raw["license"]),
            source=str(raw["source"]),
            metrics=dict(raw.get("metrics", {})),
            postfilter=dict(raw["postfilter"]) if raw.get("postfilter") else None,
            card_path=card_path,
        )
        card._check()
        return card

    def _check(self) -> None:
        if len(self.stems) < 2 or len(set(self.stems)) != len(self.stems):
            raise ValueError("stems must be two or more distinct names")
        if self.window != "hann":
            raise ValueError(f"unsupported window {self.window!r}")
        if self.n_fft % self.hop_length or not 0 < self.bins <= self.n_fft // 2 + 1:
            raise ValueError("n_fft, hop_length and bins do not fit together")
        if self.channels not in (1, 2) or self.segment_frames < 2 or self.mask_power <= 0:
            raise ValueError("channels, segment_frames or mask_power out of range")
        if self.frame_multiple < 1 or self.segment_frames % self.frame_multiple:
            raise ValueError("segment_frames must be a multiple of frame_multiple")
        if self.postfilter is not None and (
            self.postfilter.get("type") not in POSTFILTERS or int(self.postfilter.get("iterations", 1)) < 0
        ):
            raise ValueError(f"unsupported postfilter {self.postfilter!r}")
        if set(self.input.layout) != {"batch", "channels", "frames", "bins"}:
            raise ValueError(f"input layout {','.join(self.input.layout)} needs batch,channels,frames,bins")
        if set(self.output.layout) != {"batch", "stems", "channels", "frames", "bins"}:
            raise ValueError(f"output layout {','.join(self.output.layout)} needs batch,stems,channels,frames,bins")

    def verify(self) -> None:
        """Check that the .onnx exists and its bytes match the card's sha256."""
        digest = hashlib.sha256()
        try:
            with open(self.onnx_path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            raise StemdeskError(f"Model file missing for {self.id!r}: {self.onnx_path}") from None
        if digest.hexdigest() != self.sha256:
            raise StemdeskError(
                f"Model file {self.onnx_path} is corrupt (sha256 differs from its card); reinstall it."
            )


_REQUIRED = (
    "id name version architecture stems sample_rate channels n_fft hop_length window bins "
    "segment_frames input output mask_power onnx sha256 license source"
).split()


def _tensor_spec(raw: dict, holds_allowed: set[str]) -> TensorSpec:
    layout = tuple(axis.strip() for axis in str(raw["layout"]).split(","))
    unknown = set(layout) - AXES
    if unknown or len(set(layout)) != len(layout):
        raise ValueError(f"bad layout {raw['layout']!r}")
    holds = str(raw["holds"])
    if holds not in holds_allowed:
        raise ValueError(f"tensor holds {holds!r}, expected one of {sorted(holds_allowed)}")
    return TensorSpec(name=str(raw["name"]), layout=layout, holds=holds)


def model_dirs() -> list[Path]:
    """Folders searched for model cards, first match wins.

    ``$STEMDESK_MODEL_PATH`` (os.pathsep-separated), the user's data folder,
    then the models shipped with stemdesk.
    """
    dirs = [Path(p) for p in os.environ.get("STEMDESK_MODEL_PATH", "").split(os.pathsep) if p]
    dirs.append(platformdirs.user_data_path("stemdesk") / "models")
    dirs.append(PROJECT_ROOT / "models")
    return dirs


DEFAULT_MODEL = "spleeter-2stems"


class ModelRepo:
    """The installed models: every ``*.json`` card in :func:`model_dirs`."""

    def __init__(self, dirs: list[Path] | None = None):
        self.dirs = model_dirs() if dirs is None else list(dirs)

    def list(self) -> list[ModelCard]:
        """Cards of all readable models (unreadable cards are skipped here; :meth:`get` reports them)."""
        cards: dict[str, ModelCard] = {}
        for folder in self.dirs:
            for card_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    card = ModelCard.load(card_path)
                except StemdeskError:
                    continue
                cards.setdefault(card.id, card)
        return list(cards.values())

    def get(self, model: str) -> ModelCard:
        """A card by model id, or by the path of a ``.json`` card or its ``.onnx``."""
        as_path = Path(model)
        if as_path.suffix in (".json", ".onnx"):
            return ModelCard.load(as_path.with_suffix(".json"))
        for folder in self.dirs:
            card_path = folder / f"{model}.json"
            if card_path.is_file():
                return ModelCard.load(card_path)
        known = ", ".join(card.id for card in self.list()) or "none installed"
        raise StemdeskError(f"Unknown model {model!r} (available: {known}).")
