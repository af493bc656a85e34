"""The card of a hybrid waveform model (``"kind": "hybrid"``, Demucs v4): what the engine needs to run it.

A hybrid network is given a waveform segment and its spectrogram and returns
a waveform and a spectrogram per stem, whose inverse STFT it adds to the
waveform. The card says how long the segment is, how the STFT is framed, how
the mixture is normalised, how segments overlap and blend, and which tensors
go in and out; :mod:`stemdesk.hybrid` runs any graph so described.

The JSON is checked by a pydantic schema; a bad card raises one StemdeskError
naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from . import PROJECT_ROOT
from .errors import StemdeskError

#: The card stemdesk installs beside ``htdemucs.onnx`` (the installer fills in nothing: the sha256 is fixed).
HTDEMUCS_CARD = PROJECT_ROOT / "resources" / "cards" / "htdemucs.json"


class HybridInputs(BaseModel):
    """Names of the graph's inputs.

    ``waveform``: float32 ``(1, channels, segment_samples)``, the normalised mixture segment.
    ``spectrogram``: float32 ``(1, 2 * channels, n_fft // 2, frames)``, its STFT with
    each channel's real and imaginary parts as two channels (complex as channels).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    waveform: str
    spectrogram: str


class HybridOutputs(BaseModel):
    """Names of the graph's outputs.

    ``spectral``: float32 ``(1, stems, 2 * channels, n_fft // 2, frames)``, each stem's
    spectrogram, complex as channels. ``time``: float32 ``(1, stems, channels,
    segment_samples)``. Both already undo the network's own normalisation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    spectral: str
    time: str


class HybridCard(BaseModel):
    """Everything the engine needs to run one hybrid waveform model.

    ``overlap``: the fraction of a segment consecutive segments share; they
    blend with ``transition_power``-sharpened triangle weights (Demucs'
    ``apply_model``). ``shifts``: passes over the song, each offset by a
    different fraction of ``max_shift_seconds``, averaged (Demucs' ``shifts``;
    each costs a whole pass). ``normalisation``: ``mono-mean-std`` scales the
    song by the mean and standard deviation of its channels' average before
    the network, and back after, as Demucs' ``separate`` does.
    ``remainder_stem``: the stem that takes the rounding the resampler leaves
    (the stems sum to the song exactly).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hybrid"]
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    architecture: str = Field(min_length=1)
    stems: tuple[str, ...] = Field(min_length=2)
    sample_rate: int = Field(ge=8000, le=192_000)
    channels: Literal[2]
    n_fft: int = Field(ge=16)
    hop_length: int = Field(ge=1)
    segment_samples: int = Field(ge=1)
    overlap: float = Field(ge=0.0, lt=1.0)
    transition_power: float = Field(ge=1.0)
    shifts: int = Field(ge=0, le=20)
    max_shift_seconds: float = Field(default=0.5, ge=0.0)
    normalisation: Literal["mono-mean-std"]
    remainder_stem: str
    input: HybridInputs
    output: HybridOutputs
    onnx: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    license: str = Field(min_length=1)
    source: str = Field(min_length=1)
    metrics: dict[str, Any] = Field(default_factory=dict)

    _card_path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fits_together(self) -> HybridCard:
        if len(set(self.stems)) != len(self.stems):
            raise ValueError("stems must be distinct names")
        if self.remainder_stem not in self.stems:
            raise ValueError(f"remainder_stem {self.remainder_stem!r} is not one of the stems")
        if self.hop_length * 4 != self.n_fft:
            raise ValueError("hop_length must be a quarter of n_fft (the hybrid framing needs it)")
        if self.segment_samples < self.n_fft:
            raise ValueError("segment_samples must hold at least one STFT window")
        return self

    @property
    def frames(self) -> int:
        """STFT frames the network sees per segment: one per hop, rounded up."""
        return -(-self.segment_samples // self.hop_length)

    @property
    def overlap_samples(self) -> int:
        """Samples consecutive segments share (Demucs' stride rounded down, so this rounds up)."""
        return self.segment_samples - int((1 - self.overlap) * self.segment_samples)

    @property
    def mask_power(self) -> float:
        """The power of this model's effective mask: a stem's share of a bin is its power over all stems' power.

        What the mask view shows for a waveform model, and the ratio mask the
        evaluation's oracle uses for it.
        """
        return 2.0

    @property
    def card_path(self) -> Path | None:
        return self._card_path

    @property
    def onnx_path(self) -> Path:
        folder = self._card_path.parent if self._card_path else Path.cwd()
        return folder / self.onnx

    @property
    def identity(self) -> str:
        """SHA-256 of every field that determines the stems (the weights' digest among them)."""
        fields = self.model_dump(mode="json", exclude={"name", "license", "source", "metrics"})
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    @classmethod
    def load(cls, card_path: str | os.PathLike) -> HybridCard:
        """Read and check a card; StemdeskError naming the file (and field) when unusable."""
        card_path = Path(card_path)
        try:
            raw = json.loads(card_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StemdeskError(f"Model card not found: {card_path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StemdeskError(f"Model card {card_path} is not valid JSON: {error}") from None
        return cls.from_json(raw, card_path)

    @classmethod
    def from_json(cls, raw: Any, card_path: Path, catalogue: object = None) -> HybridCard:
        """A card from the JSON read from ``card_path`` (``catalogue`` unused: a hybrid model stands alone)."""
        try:
            card = cls.model_validate(raw)
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            field = ".".join(str(part) for part in problem["loc"])
            message = problem["msg"].removeprefix("Value error, ")
            raise StemdeskError(f"Model card {card_path}: {field + ': ' if field else ''}{message}") from None
        card._card_path = Path(card_path)
        return card

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
            raise StemdeskError(f"Model file {self.onnx_path} is corrupt (sha256 differs from its card); reinstall it.")
