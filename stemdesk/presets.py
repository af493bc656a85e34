"""Presets: several models run one after another, each taking one stem out of what is left.

A preset card (JSON in a model folder, ``"kind": "preset"``) lists steps::

    {"id": "band", "name": "...", "version": "1.0.0", "kind": "preset",
     "steps": [{"model": "spleeter-2stems", "keep": "vocals"},
               {"model": "drums-unet", "keep": "drums"}, ...],
     "residual": "other"}

Step k separates what steps 1..k-1 left (the first step: the song) with its
model, keeps stem ``keep`` (named ``as`` if given) and hands the rest on;
whatever is left at the end is the ``residual`` stem. Every model's stems
sum to its input, so a preset's stems sum to the song exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import Audio
from .chunking import CancelToken, Progress
from .errors import StemdeskError
from .models import ModelCard, ModelRepo
from .sample_queue import SampleQueue
from .separate import Separator, StemSpanHook, collect_stems


@dataclass(frozen=True)
class PresetStep:
    model: str
    keep: str
    name: str


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    version: str
    steps: tuple[PresetStep, ...]
    residual: str

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps) + (self.residual,)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Preset:
        """Read a preset card; StemdeskError naming the file if it is unusable."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            steps = tuple(
                PresetStep(str(step["model"]), str(step["keep"]), str(step.get("as", step["keep"])))
                for step in raw["steps"]
            )
            preset = cls(str(raw["id"]), str(raw["name"]), str(raw["version"]), steps, str(raw["residual"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StemdeskError(f"Preset {path} is invalid: {error}") from None
        if not steps or len(set(preset.stems)) != len(preset.stems):
            raise StemdeskError(f"Preset {path} needs steps with distinct stem names.")
        return preset


def is_preset_file(path: Path) -> bool:
    """Whether a JSON file in a model folder is a preset card."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == "preset"
    except (OSError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class PresetCard:
    """What names a preset's separation, as a model card names a model's.

    The stem cache keys on ``id``, ``version`` and ``sha256`` and the window shows
    ``name``, ``id`` and ``version``, so a preset works wherever a single model does.
    ``sha256`` digests every step's model id, version and ONNX digest (and the
    preset's own steps), so re-exporting any one model changes it. The rate,
    STFT and mask power are the first step's: what an evaluation's oracle
    ratio mask of the whole split is computed with.
    """

    id: str
    name: str
    version: str
    stems: tuple[str, ...]
    sha256: str
    sample_rate: int
    n_fft: int
    hop_length: int
    mask_power: float
    architecture: str = "preset"

    @classmethod
    def of(cls, preset: Preset, cards: list[ModelCard]) -> PresetCard:
        """The card of ``preset`` run with ``cards`` (one per step, in order)."""
        digest = hashlib.sha256()
        for step, card in zip(preset.steps, cards, strict=True):
            digest.update(json.dumps([step.model, step.keep, step.name, card.id, card.version, card.sha256]).encode())
        digest.update(preset.residual.encode())
        first = cards[0]
        return cls(
            preset.id, preset.name, preset.version, preset.stems, digest.hexdigest(),
            first.sample_rate, first.n_fft, first.hop_length, first.mask_power,
        )


class PresetSeparator:
    """Runs a preset's models in turn; :class:`Separator`'s ``card`` (a
    :class:`PresetCard`), ``stems``, ``device_name`` and ``separate``."""

    def __init__(
        self, preset: Preset, repo: ModelRepo, device: str = "auto", workers: int | None = None,
        cores: int | None = None,
    ):
        self.preset = preset
        self._steps = [
            (step, Separator(repo.get(step.model), device=device, workers=workers, cores=cores))
            for step in preset.steps
        ]
        for step, separator in self._steps:
            if step.keep not in separator.stems:
                raise StemdeskError(
                    f"Preset {preset.id!r}: model {step.model!r} has no stem {step.keep!r} "
                    f"({', '.join(separator.stems)})."
                )
        self.card = PresetCard.of(preset, [separator.card for _, separator in self._steps])
        self.device_name = self._steps[0][1].device_name
        self.provider = self._steps[0][1].provider

    @property
    def stems(self) -> tuple[str, ...]:
        return self.preset.stems

    def separate(
        self,
        audio: Audio,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_span: StemSpanHook | None = None,
        out: np.ndarray | None = None,
    ) -> dict[str, Audio]:
        """``{stem: Audio}`` in the preset's order, each shaped like ``audio``, summing to it.

        ``on_span`` and ``out`` as for :meth:`Separator.separate`.
        """
        spans = self.stream([audio.samples], audio.rate, audio.num_samples, progress, cancel)
        return collect_stems(spans, self.stems, audio, on_span, out)

    def stream(
        self,
        blocks: Iterable[np.ndarray],
        rate: int,
        expected_length: int | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`Separator.stream` for the chain: each model streams what the one before left.

        The steps run as a pipeline of generators, so a span of every stem is
        out as soon as the last model has it; each step's kept stem waits in
        a queue until then. The arithmetic is the whole-song chain's (what a
        step leaves is its input minus its kept stem), so the stems are
        bit-identical to it.
        """
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
            left = _what_is_left(separator, separator.stems.index(step.keep), left, rate, expected_length,
                                 step_progress(index), cancel, kept[index])
        start = 0
        for residual in left:
            stop = start + residual.shape[-1]
            stems = [queue.take(start, stop) for queue in kept]
            for queue in kept:
                queue.drop_before(stop)
            yield start, np.stack([*stems, residual])
            start = stop


def _what_is_left(
    separator: Separator, keep: int, blocks: Iterable[np.ndarray], rate: int, expected_length: int | None,
    progress: Progress, cancel: CancelToken | None, kept: SampleQueue,
) -> Iterator[np.ndarray]:
    """Blocks of ``blocks`` minus ``separator``'s stem ``keep``, which goes to ``kept``."""
    incoming = SampleQueue()

    def tee() -> Iterator[np.ndarray]:
        for block in blocks:
            incoming.push(block)
            yield block

    for start, span in separator.stream(tee(), rate, expected_length, progress, cancel):
        stop = start + span.shape[-1]
        kept.push(span[keep])
        yield incoming.take(start, stop) - span[keep]
        incoming.drop_before(stop)


def open_separator(
    model: str, device: str = "auto", repo: ModelRepo | None = None, workers: int | None = None,
    cores: int | None = None,
) -> Separator | PresetSeparator:
    """A separator for a model id, a card path, or a preset id/path (see Separator for ``workers``, ``cores``)."""
    repo = repo or ModelRepo()
    preset = find_preset(model, repo)
    if preset is not None:
        return PresetSeparator(preset, repo, device, workers, cores)
    return Separator(repo.get(model), device=device, workers=workers, cores=cores)


def find_preset(model: str, repo: ModelRepo) -> Preset | None:
    """The preset ``model`` names (an id in a model folder or a card path), None if it names none."""
    as_path = Path(model)
    if as_path.suffix == ".json" and is_preset_file(as_path):
        return Preset.load(as_path)
    for folder in repo.dirs:
        candidate = folder / f"{model}.json"
        if candidate.is_file() and is_preset_file(candidate):
            return Preset.load(candidate)
    return None


def check_installed(model: str, repo: ModelRepo | None = None) -> str:
    """The display name of model or preset ``model``, without loading any network.

    Raises StemdeskError (one line) when it is unknown, unreadable, or a preset
    one of whose models is missing.
    """
    repo = repo or ModelRepo()
    preset = find_preset(model, repo)
    if preset is None:
        return repo.get(model).name
    for step in preset.steps:
        try:
            repo.get(step.model)
        except StemdeskError as error:
            raise StemdeskError(f"Preset {preset.id!r} cannot run: {error}") from None
    return preset.name


def separation_choices(repo: ModelRepo | None = None) -> list[tuple[str, str]]:
    """``(id, name)`` of every installed model, then every usable preset: what a song
    can be separated with."""
    repo = repo or ModelRepo()
    cards = repo.list()
    installed = {card.id for card in cards}
    usable = [preset for preset in installed_presets(repo) if all(step.model in installed for step in preset.steps)]
    return [(card.id, card.name) for card in cards] + [(preset.id, preset.name) for preset in usable]


def installed_presets(repo: ModelRepo | None = None) -> list[Preset]:
    """Every readable preset card in the model folders, first match per id wins."""
    repo = repo or ModelRepo()
    presets: dict[str, Preset] = {}
    for folder in repo.dirs:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if is_preset_file(path):
                try:
                    preset = Preset.load(path)
                except StemdeskError:
                    continue
                presets.setdefault(preset.id, preset)
    return list(presets.values())
