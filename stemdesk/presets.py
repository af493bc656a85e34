"""Presets: several models run one after another, each taking stems out of what is left.

A preset card (JSON in a model folder, ``"kind": "preset"``) lists steps::

    {"id": "band", "name": "...", "version": "2.0.0", "kind": "preset",
     "steps": [{"model": "htdemucs", "keep": ["vocals", "drums", "bass"]},
               {"model": "guitar-unet", "keep": "guitar"}, ...],
     "residual": "other"}

Step k separates what steps 1..k-1 left (the first step: the song) with its
model, keeps the stems ``keep`` names (one name or a list; renamed by ``as``,
a name or a list as long) and hands the rest on; whatever is left at the end
is the ``residual`` stem. Every model's stems sum to its input, so a preset's
stems sum to the song exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, PrivateAttr, model_validator

from .audio import Audio
from .chunking import CancelToken, Progress
from .errors import StemdeskError
from .models import CardSchema, ModelId, StemNames, Text
from .sample_queue import SampleQueue
from .separate import Reread, StemSpanHook, collect_stems
from .separators import SeparatorCard, StemSeparator
from .validation import validated

if TYPE_CHECKING:
    from .catalogue import Catalogue


def _as_names(value):
    return (value,) if isinstance(value, str) else value


class PresetStep(CardSchema):
    """One model of a preset and the stems kept from its separation."""

    model: ModelId
    keep: Annotated[StemNames, BeforeValidator(_as_names)]
    rename: Annotated[StemNames | None, BeforeValidator(_as_names)] = Field(default=None, alias="as")

    @model_validator(mode="after")
    def _one_name_per_kept_stem(self) -> PresetStep:
        if self.rename is not None and len(self.rename) != len(self.keep):
            raise ValueError(f"'as' names {len(self.rename)} stems but 'keep' {len(self.keep)}")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """What the kept stems are called in the preset's output."""
        return self.rename or self.keep


class PresetCard(CardSchema):
    """A preset's card: what names its separation, as a model card names a model's.

    Read through :meth:`from_json` with a catalogue, which resolves every step's
    model (:attr:`step_cards`): a step naming a missing model or a stem its model
    does not have makes the preset broken. ``identity`` digests the steps and every
    step model's identity, so re-exporting any one model changes it. The rate and
    STFT are the first step's: what an evaluation's oracle ratio mask of the whole
    split is computed with.
    """

    kind: Literal["preset"]
    id: ModelId
    name: Text
    version: Text
    steps: tuple[PresetStep, ...] = Field(min_length=1)
    residual: ModelId
    _step_cards: tuple[SeparatorCard, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _distinct_stems(self) -> PresetCard:
        if len(set(self.stems)) != len(self.stems):
            raise ValueError(f"stems must be distinct, got {', '.join(self.stems)}")
        return self

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(name for step in self.steps for name in step.names) + (self.residual,)

    @property
    def stages(self) -> tuple[str, ...]:
        """What each step takes out, e.g. ``("vocals + drums + bass", "guitar", "piano")``: one share of the progress each."""
        return tuple(" + ".join(step.names) for step in self.steps)

    @property
    def step_cards(self) -> tuple[SeparatorCard, ...]:
        return self._step_cards

    @property
    def license(self) -> str:
        """Every step model's licence, once each."""
        return "; ".join(dict.fromkeys(card.license for card in self._step_cards))

    @property
    def identity(self) -> str:
        digest = hashlib.sha256(json.dumps(self.model_dump(mode="json", exclude={"name"}), sort_keys=True).encode())
        for card in self._step_cards:
            digest.update(card.identity.encode())
        return digest.hexdigest()

    #: Reports print a model's digest; a preset's is its identity.
    sha256 = identity

    @property
    def architecture(self) -> str:
        return "preset"

    @property
    def sample_rate(self) -> int:
        return self._step_cards[0].sample_rate

    @property
    def n_fft(self) -> int:
        return self._step_cards[0].n_fft

    @property
    def hop_length(self) -> int:
        return self._step_cards[0].hop_length

    @property
    def mask_power(self) -> float:
        return self._step_cards[0].mask_power

    @classmethod
    def from_json(cls, raw, card_path: Path, catalogue: Catalogue) -> PresetCard:
        """A preset from its JSON, its steps' models found in ``catalogue``; StemdeskError naming the
        file and the step when it cannot run."""
        card = validated(cls, raw, card_path, "Preset")
        cards = []
        for index, step in enumerate(card.steps):
            try:
                model = catalogue.get(step.model, allow_presets=False)
            except StemdeskError as error:
                raise StemdeskError(f"Preset {card_path}: steps.{index}.model: {error}") from None
            missing = [stem for stem in step.keep if stem not in model.stems]
            if missing:
                raise StemdeskError(
                    f"Preset {card_path}: steps.{index}.keep: model {step.model!r} has no stem "
                    f"{', '.join(map(repr, missing))} ({', '.join(model.stems)})."
                )
            cards.append(model)
        card._step_cards = tuple(cards)
        return card


class PresetSeparator:
    """Runs a preset's models in turn: a :class:`stemdesk.separators.StemSeparator`."""

    def __init__(
        self, card: PresetCard, catalogue: Catalogue, device: str = "auto", workers: int | None = None,
        cores: int | None = None,
    ):
        self.card = card
        self._steps: list[tuple[PresetStep, StemSeparator]] = [
            (step, catalogue.open(step.model, device=device, workers=workers, cores=cores)) for step in card.steps
        ]
        self.device_name = self._steps[0][1].device_name

    @property
    def stems(self) -> tuple[str, ...]:
        return self.card.stems

    @property
    def streams(self) -> bool:
        """Whether :meth:`stream` works: every step's model streams (mask models do)."""
        return all(callable(getattr(separator, "stream", None)) and getattr(separator, "streams", True)
                   for _, separator in self._steps)

    def separate(
        self,
        audio: Audio,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_span: StemSpanHook | None = None,
        out: np.ndarray | None = None,
    ) -> dict[str, Audio]:
        """``{stem: Audio}`` in the preset's order, each shaped like ``audio``, summing to it.

        ``on_span`` and ``out`` as for :meth:`Separator.separate`; when a step
        does not stream, the one span is the whole song, once it is done.
        """
        if self.streams:
            spans = self.stream([audio.samples], audio.rate, audio.num_samples, progress, cancel)
            return collect_stems(spans, self.stems, audio, on_span, out)
        stems = self._separate_in_turn(audio, progress, cancel)
        if on_span is None and out is None:
            return stems
        whole = np.stack([stems[name].samples for name in self.stems])
        return collect_stems([(0, whole)], self.stems, audio, on_span, out)

    def _separate_in_turn(
        self, audio: Audio, progress: Progress | None, cancel: CancelToken | None
    ) -> dict[str, Audio]:
        steps = len(self._steps)
        stems: dict[str, Audio] = {}
        left = audio
        for index, (step, separator) in enumerate(self._steps):
            def step_progress(done: int, total: int, index: int = index) -> None:
                if progress:
                    # Each step is one equal share of the bar, in thousandths.
                    progress(index * 1000 + 1000 * done // max(total, 1), steps * 1000)

            separated = separator.separate(left, progress=step_progress, cancel=cancel)
            rest = left.samples.copy()
            for stem, name in zip(step.keep, step.names, strict=True):
                stems[name] = separated[stem]
                rest -= separated[stem].samples
            left = Audio(rest, audio.rate)
        stems[self.card.residual] = left
        return {name: stems[name] for name in self.stems}

    def stream(
        self,
        blocks: Iterable[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        reread: Reread | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`Separator.stream` for the chain: each model streams what the one before left.

        Only when :attr:`streams`. The steps run as a pipeline of generators,
        so a span of every stem is out as soon as the last model has it; each
        step's kept stems wait in a queue until then. The arithmetic is the
        whole-song chain's (what a step leaves is its input minus its kept
        stems, in order), so the stems are bit-identical to it. ``reread``
        goes to the first step, whose input is the song; what a later step
        separates is made as it goes and cannot be read again.
        """
        if not self.streams:
            raise StemdeskError(f"Preset {self.card.id!r} has a step whose model does not separate block by block.")
        steps = len(self._steps)
        shares = [0.0] * steps

        def step_progress(index: int) -> Progress:
            def report(done: int, total: int) -> None:
                shares[index] = done / max(total, 1)
                if progress:
                    # Each step is one equal share of the bar, in thousandths.
                    progress(int(1000 * sum(shares)), steps * 1000)
            return report

        kept = [SampleQueue() for _ in self._steps]
        left: Iterable[np.ndarray] = blocks
        for index, (step, separator) in enumerate(self._steps):
            keep = [separator.stems.index(stem) for stem in step.keep]
            left = _what_is_left(separator, keep, left, rate, expected_length, step_progress(index), cancel,
                                 kept[index], reread if index == 0 else None)
        start = 0
        for residual in left:
            stop = start + residual.shape[-1]
            stems = [queue.take(start, stop) for queue in kept]
            for queue in kept:
                queue.drop_before(stop)
            yield start, np.concatenate([*stems, residual[None]])
            start = stop


def _what_is_left(
    separator, keep: list[int], blocks: Iterable[np.ndarray], rate: int, expected_length: int | None,
    progress: Progress, cancel: CancelToken | None, kept: SampleQueue, reread: Reread | None,
) -> Iterator[np.ndarray]:
    """Blocks ``(C, n)`` of ``blocks`` minus ``separator``'s stems ``keep``; those go to ``kept`` as ``(K, C, n)``."""
    incoming = SampleQueue()

    def tee() -> Iterator[np.ndarray]:
        for block in blocks:
            incoming.push(block)
            yield block

    for start, span in separator.stream(tee(), rate, expected_length, progress, cancel, reread):
        stop = start + span.shape[-1]
        kept.push(span[keep])
        rest = incoming.take(start, stop).copy()
        for index in keep:
            rest -= span[index]
        yield rest
        incoming.drop_before(stop)
