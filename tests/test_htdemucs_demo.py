"""The real htdemucs on the demo song, when it is installed (CI: ``stemdesk models install htdemucs``).

Found in the model folders (``htdemucs.json`` beside its ``.onnx``) or, before
it is installed, through ``$STEMDESK_HTDEMUCS_ONNX`` naming an htdemucs.onnx
(run with the card stemdesk installs beside it). Skipped when neither.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from stemdesk.hybrid import HybridSeparator
from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard
from stemdesk.models import model_dirs


@pytest.fixture(scope="module")
def htdemucs_card(tmp_path_factory):
    named = os.environ.get("STEMDESK_HTDEMUCS_ONNX")
    if named and Path(named).is_file():
        folder = tmp_path_factory.mktemp("htdemucs")
        (folder / "htdemucs.onnx").symlink_to(Path(named).resolve())
        shutil.copy(HTDEMUCS_CARD, folder / "htdemucs.json")
        return HybridCard.load(folder / "htdemucs.json")
    for folder in model_dirs():
        if (folder / "htdemucs.json").is_file():
            return HybridCard.load(folder / "htdemucs.json")
    pytest.skip("htdemucs is not installed (stemdesk models install htdemucs, or set STEMDESK_HTDEMUCS_ONNX)")


def test_htdemucs_separates_the_demo_into_four_stems_summing_to_it(htdemucs_card, demo_audio):
    separator = HybridSeparator(htdemucs_card, "cpu")
    seen = []
    stems = separator.separate(demo_audio, progress=lambda done, total: seen.append((done, total)))
    assert list(stems) == ["drums", "bass", "other", "vocals"]
    assert seen[-1] == (2, 2)  # 10.9 s: segments at 0 and 5.85 s
    total = sum(stem.samples for stem in stems.values())
    assert np.abs(total - demo_audio.samples).max() < 1e-5
    mixture_energy = np.sum(demo_audio.samples**2)
    shares = {name: np.sum(stem.samples**2) / mixture_energy for name, stem in stems.items()}
    # The demo is a sung pop excerpt: every stem carries part of it, none all of it.
    assert all(0.01 < share < 0.9 for share in shares.values()), shares
