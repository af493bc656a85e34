"""The beat network's training pieces: labels, stretched crops, export to ONNX Runtime."""

import json
import random

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from stemdesk.analysis.features import FPS  # noqa: E402
from stemdesk.audio import Audio, write_audio  # noqa: E402
from stemdesk.training import beat_net  # noqa: E402
from stemdesk.training.beat_clicks import click_track  # noqa: E402


def test_targets_mark_each_beat_and_its_neighbours_at_half_weight():
    target = beat_net.targets(np.array([10 / FPS, 30 / FPS]), start=0, stretch=1.0, frames=40)
    assert np.flatnonzero(target == 1.0).tolist() == [10, 30]
    assert np.flatnonzero(target == 0.5).tolist() == [9, 11, 29, 31]
    # Stretched by 2 (twice the tempo) from frame 4, the beat at source frame 30 lands on frame 13.
    assert beat_net.targets(np.array([30 / FPS]), start=4, stretch=2.0, frames=40)[13] == 1.0


@pytest.fixture
def click_folder(tmp_path):
    samples, labels = click_track(np.random.default_rng(3))
    folder = tmp_path / "click"
    folder.mkdir()
    write_audio(folder / "mixture.wav", Audio(np.stack([samples, samples]), 44100), "FLOAT")
    (folder / "beats.json").write_text(json.dumps(labels))
    return folder


def test_a_stretched_crop_keeps_its_labels_on_its_clicks(click_folder):
    track = beat_net.Track(click_folder)
    inputs, labels = beat_net.batch([track], 4, random.Random(0))
    assert inputs.shape == (4, 192, beat_net.CROP_FRAMES) and labels.shape == (4, 2, beat_net.CROP_FRAMES)
    rise = inputs[:, 96:].sum(dim=1)
    for crop in range(4):
        marked = torch.nonzero(labels[crop, 0] == 1.0).flatten()
        marked = marked[(marked >= 3) & (marked < beat_net.CROP_FRAMES - 3)]
        assert len(marked) >= 4
        # Each click's onset (the spectrum's steepest rise near it) is within a frame of its label.
        near = marked[:, None] + torch.arange(-3, 4)[None, :]
        assert torch.all(torch.abs(torch.argmax(rise[crop][near], dim=1) - 3) <= 1)
        downbeats = torch.nonzero(labels[crop, 1] == 1.0).flatten()
        assert torch.all(labels[crop, 0][downbeats] == 1.0)


def test_the_exported_network_computes_what_torch_does(tmp_path, click_folder):
    torch.manual_seed(0)
    model = beat_net.BeatTCN(dilations=(1, 2))
    args = type("Args", (), {"data": [click_folder], "note": None, "valid": 0, "batch": 2, "seed": 0, "out": tmp_path})
    beat_net.export(model, args, steps=0, seconds=0.0)
    spectrum = torch.from_numpy(beat_net.Track(click_folder).inputs[None, :, :500])
    with torch.no_grad():
        expected = torch.sigmoid(model.eval()(spectrum)).numpy()
    session = ort.InferenceSession(str(tmp_path / "beat-tcn.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"spectrum": spectrum.numpy()})
    # Weights are stored in half precision.
    assert output.shape == (1, 2, 500) and np.max(np.abs(output - expected)) < 2e-3
    card = json.loads((tmp_path / "beat-tcn.json").read_text())
    assert card["onnx"] == "beat-tcn.onnx" and card["output"]["name"] == "activations"
