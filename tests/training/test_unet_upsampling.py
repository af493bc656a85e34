"""The U-Net decoder's export form: a sub-pixel convolution instead of a transposed one."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

from stemdesk.training.onnx_export import export_onnx  # noqa: E402
from stemdesk.training.unet import DecoderStage, SpectrogramUNet, SubPixelUpsample  # noqa: E402


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (8, 16)])
def test_subpixel_upsample_equals_the_cropped_transposed_convolution(size):
    torch.manual_seed(0)
    stage = DecoderStage(6, 3).eval()
    x = torch.randn(2, 6, *size)
    with torch.no_grad():
        expected = stage.deconv(x)[:, :, 1:-2, 1:-2]
        got = SubPixelUpsample(stage.deconv)(x)
    assert got.shape == (2, 3, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_the_transposed_convolution_is_recovered_exactly_from_the_subpixel_kernel():
    torch.manual_seed(0)
    deconv = torch.nn.ConvTranspose2d(6, 3, kernel_size=5, stride=2)
    recovered = SubPixelUpsample.transposed_weight(SubPixelUpsample(deconv).kernel)
    assert torch.equal(recovered, deconv.weight.detach())


def test_subpixel_upsample_refuses_other_transposed_convolutions():
    with pytest.raises(ValueError, match="5x5 stride-2"):
        SubPixelUpsample(torch.nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2))


def test_exported_unet_has_no_transposed_convolution_and_matches_torch(tmp_path):
    torch.manual_seed(0)
    net = SpectrogramUNet(channels=2, filters=(4, 8, 16)).eval()
    card = {
        "id": "tiny-unet",
        "input": {"name": "magnitude", "layout": "batch,channels,frames,bins"},
        "output": {"name": "mask", "layout": "batch,channels,frames,bins"},
    }
    onnx_path, _ = export_onnx(
        net, torch.rand(1, 2, 16, 32) * 5, card, tmp_path, weights_dtype="float32", dynamic_dims={"batch": 1, "frames": 8}
    )
    ops = {node.op_type for node in onnx.load(onnx_path).graph.node}
    assert "ConvTranspose" not in ops and "DepthToSpace" in ops
    # The module handed to the exporter goes on training as it was.
    assert all(stage.subpixel is None for stage in net.decoder)
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    # Another batch and length than the example the graph was traced with.
    other = torch.rand(3, 2, 48, 32) * 5
    (got,) = session.run(None, {"magnitude": other.numpy()})
    with torch.no_grad():
        expected = net(other).numpy()
    assert abs(got - expected).max() < 1e-5


def test_a_shipped_instrument_model_loads_back_into_torch_and_computes_the_same_masks():
    from stemdesk.catalogue import Catalogue
    from stemdesk.training.architectures import architecture, load_pretrained
    from stemdesk.training.export_trained import TwoStemOutput, example_magnitudes

    card = Catalogue().get("bass-unet")
    unet = architecture("unet")
    config = unet.config({})
    net = unet.build(config)
    load_pretrained(net, "unet", config, card.id)
    magnitude = example_magnitudes(1, 2, 64, 1024)
    with torch.no_grad():
        expected = TwoStemOutput(net, "mask").eval()(magnitude).numpy()
    session = onnxruntime.InferenceSession(str(card.onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {card.input.name: magnitude.numpy()})
    assert abs(got - expected).max() < 1e-4
