"""Where the benchmarks find htdemucs: installed (the catalogue), or an ONNX named by the environment.

``$STEMDESK_HTDEMUCS_ONNX`` names an ``htdemucs.onnx`` (e.g. the unpacked npm
package); it is then run from a temporary folder holding a link to it and the
card stemdesk installs beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard
from stemdesk.models import model_dirs


def htdemucs_card() -> HybridCard | None:
    """The htdemucs card, or None when neither installed nor named by ``$STEMDESK_HTDEMUCS_ONNX``."""
    named = os.environ.get("STEMDESK_HTDEMUCS_ONNX")
    if named and Path(named).is_file():
        folder = Path(tempfile.mkdtemp(prefix="htdemucs-"))
        (folder / "htdemucs.onnx").symlink_to(Path(named).resolve())
        shutil.copy(HTDEMUCS_CARD, folder / "htdemucs.json")
        return HybridCard.load(folder / "htdemucs.json")
    for folder in model_dirs():
        card_path = folder / "htdemucs.json"
        if card_path.is_file():
            return HybridCard.load(card_path)
    return None


def card_variant(card: HybridCard, folder: Path, **fields) -> HybridCard:
    """A copy of ``card`` in the new folder ``folder`` with ``fields`` changed (its network linked, not copied).

    The copy has an id of its own (``<id>+variant``): the catalogue reads a card with the id
    and weights of a template stemdesk ships as that template, which would undo the change.
    """
    folder.mkdir()
    (folder / card.onnx).symlink_to(card.onnx_path.resolve())
    raw = json.loads(card.card_path.read_text())
    raw.update(fields, id=f"{card.id}+variant")
    path = folder / card.card_path.name
    path.write_text(json.dumps(raw))
    return HybridCard.load(path)
