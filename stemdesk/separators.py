"""The one seam between what separates and what uses stems: a protocol and a table of model kinds.

Every separator -- a mask network (:class:`stemdesk.separate.Separator`), a preset
chaining several models (:class:`stemdesk.presets.PresetSeparator`), a hybrid
waveform network (Demucs v4) -- satisfies :class:`StemSeparator`, and its card
satisfies :class:`SeparatorCard`. The session, the stem files, the stem cache and
the window know only these two protocols, so a new kind of model plugs in by adding
one row to :data:`KINDS` (its card class and how to open its separator), not a new
union in every caller.

A card file names its kind in a ``"kind"`` field; ``"mask"`` when absent.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .audio import Audio
from .chunking import CancelToken, Progress
from .errors import StemdeskError

if TYPE_CHECKING:
    from .catalogue import Catalogue

#: Bump when the engine's output for an unchanged card changes (a fix in the STFT,
#: the chunking, the mask normalisation...): the stem cache keys on it, so stems
#: made by older engine code are separated again instead of being served.
ENGINE_REVISION = 1

DEFAULT_KIND = "mask"


@runtime_checkable
class SeparatorCard(Protocol):
    """What names a separation: shown in the window, listed by ``stemdesk models``, keyed on by the cache.

    A card of several models run in turn (a preset) also has ``stages``: what each
    step takes out, each step an equal share of the progress the separator reports.
    """

    id: str
    name: str
    version: str
    stems: tuple[str, ...]
    license: str

    @property
    def identity(self) -> str:
        """A digest of everything on the card that determines the stems (weights' digest included)."""
        ...


@runtime_checkable
class StemSeparator(Protocol):
    """Splits audio into stems.

    ``separate(audio)`` returns ``{stem: Audio}`` in ``stems`` order, each with
    ``audio``'s rate, channels and length, summing to ``audio``; ``progress(done,
    total)`` is called as work completes and ``cancel`` is checked between chunks
    (raising :class:`stemdesk.chunking.Cancelled`).
    """

    card: SeparatorCard
    device_name: str

    @property
    def stems(self) -> tuple[str, ...]: ...

    def separate(
        self, audio: Audio, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> dict[str, Audio]: ...


@dataclass(frozen=True)
class ModelKind:
    """How one kind of card becomes a separator.

    Both are ``"module:attribute"`` names, imported when first needed, so the table
    costs nothing to read and an engine's heavy imports wait for its first use.

    Attributes:
        card: a class with ``from_json(raw: dict, card_path: Path, catalogue) -> card``
            that validates the card (raising StemdeskError naming the file and field).
        separator: a callable ``(card, catalogue, device: str, workers: int | None,
            cores: int | None) -> StemSeparator`` (``cores``: how many CPU cores
            it may keep busy, None for all).
    """

    card: str
    separator: str

    def load_card(self, raw: dict, card_path: Path, catalogue: Catalogue) -> SeparatorCard:
        return _resolve(self.card).from_json(raw, card_path, catalogue)

    def missing_engine(self) -> str | None:
        """Why this stemdesk cannot run the kind (its engine module is absent), or None."""
        module = self.separator.partition(":")[0]
        return None if importlib.util.find_spec(module) else f"its engine {module} is not part of this stemdesk"

    def open_separator(
        self, card: SeparatorCard, catalogue: Catalogue, device: str, workers: int | None, cores: int | None = None
    ) -> StemSeparator:
        return _resolve(self.separator)(card, catalogue, device, workers, cores)


#: The kinds of model stemdesk runs, by the ``"kind"`` of their card.
KINDS: dict[str, ModelKind] = {
    "mask": ModelKind("stemdesk.models:ModelCard", "stemdesk.separate:open_mask_separator"),
    "preset": ModelKind("stemdesk.presets:PresetCard", "stemdesk.presets:PresetSeparator"),
    "hybrid": ModelKind("stemdesk.hybrid_card:HybridCard", "stemdesk.hybrid:open_hybrid_separator"),
}


def kind_of(raw: Any, card_path: Path) -> ModelKind:
    """The kind a card's JSON declares; StemdeskError naming the file for an unknown one."""
    name = raw.get("kind", DEFAULT_KIND) if isinstance(raw, dict) else DEFAULT_KIND
    if name not in KINDS:
        raise StemdeskError(f"Model card {card_path}: kind {name!r} is unknown (known: {', '.join(KINDS)}).")
    return KINDS[name]


def _resolve(target: str):
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise StemdeskError(f"This stemdesk cannot run {target}: {error}") from None
