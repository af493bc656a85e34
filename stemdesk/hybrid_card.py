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

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .models import CARD_TEMPLATES, CardSchema, ModelId, OnnxCard, OnnxFileName, Sha256, StemNames, Text

#: The card stemdesk installs beside ``htdemucs.onnx`` (the installer fills in nothing: the sha256 is fixed).
HTDEMUCS_CARD = CARD_TEMPLATES / "htdemucs.json"


class HybridInputs(CardSchema):
    """Names of the graph's inputs.

    ``waveform``: float32 ``(1, channels, segment_samples)``, the normalised mixture segment.
    ``spectrogram``: float32 ``(1, 2 * channels, n_fft // 2, frames)``, its STFT with
    each channel's real and imaginary parts as two channels (complex as channels).
    """

    waveform: str
    spectrogram: str


class HybridOutputs(CardSchema):
    """Names of the graph's outputs.

    ``spectral``: float32 ``(1, stems, 2 * channels, n_fft // 2, frames)``, each stem's
    spectrogram, complex as channels. ``time``: float32 ``(1, stems, channels,
    segment_samples)``. Both already undo the network's own normalisation.
    """

    spectral: str
    time: str


class HybridCard(OnnxCard):
    """Everything the engine needs to run one hybrid waveform model.

    ``overlap``: the fraction of a segment consecutive segments share; they
    blend with ``transition_power``-sharpened triangle weights (Demucs'
    ``apply_model``). ``shifts``: passes over the song, each offset by a
    different fraction of ``max_shift_seconds``, averaged (Demucs' ``shifts``;
    each costs a whole pass; the passes run side by side, so the window plays
    a song once the first segment of every pass is done). ``normalisation``: ``mono-mean-std`` scales the
    song by the mean and standard deviation of its channels' average before
    the network, and back after, as Demucs' ``separate`` does.
    ``remainder_stem``: the stem that takes the rounding the resampler leaves
    (the stems sum to the song exactly).
    """

    kind: Literal["hybrid"]
    id: ModelId
    name: Text
    version: Text
    architecture: Text
    stems: Annotated[StemNames, Field(min_length=2)]
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
    onnx: OnnxFileName
    sha256: Sha256
    license: Text
    source: Text
    metrics: dict[str, Any] = Field(default_factory=dict)


    @model_validator(mode="after")
    def _fits_together(self) -> HybridCard:
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
