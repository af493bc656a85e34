"""The one catalogue of installed models and presets: every card in the model folders.

A card is a JSON file in one of :func:`stemdesk.models.model_dirs`; its ``"kind"``
(see :data:`stemdesk.separators.KINDS`) says which class reads it and which
separator runs it. The catalogue finds cards (by id, the file name without
``.json``, first folder wins, or by path), reads them through their kind, tells
usable ones from broken ones, and opens separators -- for mask models, presets and
hybrid models alike, so that callers never ask which kind they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import StemdeskError
from .models import CARD_TEMPLATES, DEFAULT_MODEL, model_dirs
from .separators import DEFAULT_KIND, KINDS, ModelKind, SeparatorCard, StemSeparator, kind_of
from .validation import read_json

#: Models the window separates with by default, best first: Demucs v4 when it is installed.
PREFERRED_MODELS = ("htdemucs", DEFAULT_MODEL)


@dataclass(frozen=True)
class CatalogueEntry:
    """One card file in a model folder.

    Attributes:
        id: the model's id (its file name without ``.json``).
        path: the card file.
        kind: the card's ``"kind"`` (``"mask"`` when unreadable).
        card: the card, when it can be used; None when broken.
        problem: why it cannot be used (one line), None when it can.
    """

    id: str
    path: Path
    kind: str
    card: SeparatorCard | None
    problem: str | None

    @property
    def usable(self) -> bool:
        return self.problem is None


class Catalogue:
    """The models and presets in ``dirs`` (default :func:`stemdesk.models.model_dirs`).

    Nothing is remembered between calls: a model installed or removed meanwhile
    is seen by the next one.
    """

    def __init__(self, dirs: list[Path] | None = None):
        self.dirs = model_dirs() if dirs is None else [Path(folder) for folder in dirs]

    def entries(self) -> list[CatalogueEntry]:
        """Every card in the folders, broken ones too, first folder wins per id; folder order, then by id."""
        found: dict[str, CatalogueEntry] = {}
        for folder in self.dirs:
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                if path.stem not in found:
                    found[path.stem] = self._entry(path)
        return list(found.values())

    def list(self) -> list[SeparatorCard]:
        """The cards of every usable model and preset."""
        return [entry.card for entry in self.entries() if entry.usable]

    def choices(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every usable model, then every usable preset: what a song can be separated with."""
        usable = [entry for entry in self.entries() if entry.usable]
        ordered = [entry for entry in usable if entry.kind != "preset"] + [e for e in usable if e.kind == "preset"]
        return [(entry.id, entry.card.name) for entry in ordered]

    def default_model(self) -> str:
        """The first of :data:`PREFERRED_MODELS` that is usable here (the last one if none is)."""
        usable = {entry.id for entry in self.entries() if entry.usable}
        return next((model for model in PREFERRED_MODELS if model in usable), PREFERRED_MODELS[-1])

    def get(self, model: str, allow_presets: bool = True) -> SeparatorCard:
        """The card of a model or preset by id, or by the path of its ``.json`` card (or a mask model's ``.onnx``).

        Raises StemdeskError (one line) when it is unknown or broken, or when it
        is a preset and ``allow_presets`` is False (a preset's steps name models).
        """
        return self._load(model, allow_presets)[1]

    def check(self, model: str) -> str:
        """The display name of ``model`` without loading any network; StemdeskError when it cannot run."""
        return self.get(model).name

    def open(
        self, model: str, device: str = "auto", workers: int | None = None, cores: int | None = None
    ) -> StemSeparator:
        """A separator for a model or preset (id or card path): see :class:`stemdesk.separate.Separator`
        for ``workers`` and ``cores``."""
        kind, card = self._load(model)
        return kind.open_separator(card, self, device, workers, cores)

    def _load(self, model: str, allow_presets: bool = True) -> tuple[ModelKind, SeparatorCard]:
        path = self._locate(model)
        raw = as_this_stemdesk_describes(read_json(path, "Model card"))
        kind = kind_of(raw, path)
        if not allow_presets and kind is KINDS["preset"]:
            raise StemdeskError(f"{model!r} is a preset; a preset's step must name a model.")
        missing = kind.missing_engine()
        if missing:
            raise StemdeskError(f"Model card {path}: {missing}.")
        return kind, kind.load_card(raw, path, self)

    def _locate(self, model: str) -> Path:
        as_path = Path(model)
        if as_path.suffix in (".json", ".onnx"):
            return as_path.with_suffix(".json")
        for folder in self.dirs:
            path = folder / f"{model}.json"
            if path.is_file():
                return path
        # The file names, not choices(): reading the cards could lead back here through a preset.
        known = ", ".join(sorted({path.stem for folder in self.dirs if folder.is_dir() for path in folder.glob("*.json")}))
        known = known or "none installed"
        from .installer import INSTALLABLE  # here: the installer builds on the catalogue

        hint = f" Install it with: stemdesk models install {model}" if model in INSTALLABLE else ""
        raise StemdeskError(f"Unknown model {model!r} (available: {known}).{hint}")

    def _entry(self, path: Path) -> CatalogueEntry:
        try:
            raw = read_json(path, "Model card")
        except StemdeskError as error:
            return CatalogueEntry(path.stem, path, DEFAULT_KIND, None, str(error))
        kind_name = raw.get("kind", DEFAULT_KIND) if isinstance(raw, dict) else DEFAULT_KIND
        try:
            card = self.get(str(path))
        except StemdeskError as error:
            return CatalogueEntry(path.stem, path, kind_name, None, str(error))
        if card.id != path.stem:
            return CatalogueEntry(path.stem, path, kind_name, None,
                                  f"Model card {path}: id {card.id!r} differs from its file name.")
        return CatalogueEntry(card.id, path, kind_name, card, None)


def as_this_stemdesk_describes(raw: object) -> object:
    """An installed card of weights this stemdesk has a template for (same id and digest):
    the template (:data:`CARD_TEMPLATES`), so that the card follows stemdesk's upgrades
    (say, int8 weights or a smaller overlap for htdemucs) instead of what the stemdesk
    that installed it wrote. Any other card as it is: one the user wrote for weights of
    their own keeps its settings."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return raw
    template = CARD_TEMPLATES / f"{raw['id']}.json"
    if not template.is_file():
        return raw
    current = read_json(template, "Model card")
    same_weights = raw.get("sha256") == current.get("sha256") and raw.get("onnx") == current.get("onnx")
    return current if same_weights else raw
