"""Read a trained network's weights back out of an exported ``.onnx``: fine-tune a shipped model.

A run's checkpoint lives beside its training data, not in the repository; the
shipped ``.onnx`` is what everyone has. ``stemdesk train --init guitar-unet`` starts
a new run from the installed model's weights, so a model trained on one machine
can be trained on elsewhere (on a GPU, or with more data) without its checkpoint.

``export_trained`` wraps the network as ``net`` in ``TwoStemOutput``, so each
parameter ``<key>`` of the network is the initializer ``net.<key>``, stored as
``net.<key>.float16`` when the export kept weights in half precision. Two
exceptions, both undone here: a U-Net's decoder is exported as
``unet.SubPixelUpsample`` (``decoder.N.subpixel.kernel`` / ``.bias``), from which
the transposed convolution is recovered exactly; and optimisers' state and batch
norms' ``num_batches_tracked`` are not in the file (the latter keeps the fresh
network's value: it only matters for batch norms without momentum).
"""

from collections.abc import Mapping

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from stemdesk.errors import StemdeskError
from stemdesk.models import ModelCard
from stemdesk.training.unet import SubPixelUpsample

#: The prefix ``export_trained.TwoStemOutput`` gives every parameter of the network.
PREFIX = "net."
HALF_SUFFIX = ".float16"


def onnx_initializers(card: ModelCard) -> dict[str, np.ndarray]:
    """Every initializer of the card's verified ``.onnx`` as float32, ``.float16`` suffix removed."""
    card.verify()
    try:
        model = onnx.load(str(card.onnx_path))
    except Exception as error:  # onnx raises protobuf's untyped DecodeError for damaged files
        raise StemdeskError(f"Cannot read the weights of {card.id!r} from {card.onnx_path}: {error}") from None
    arrays = {}
    for tensor in model.graph.initializer:
        name = tensor.name.removesuffix(HALF_SUFFIX)
        arrays[name] = numpy_helper.to_array(tensor).astype(np.float32)
    return arrays


def network_state_from_onnx(card: ModelCard, net: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for ``net`` holding the weights of the model ``card`` describes.

    Raises:
        StemdeskError: the model was not exported from a network of ``net``'s
            architecture and sizes (a weight is missing or has another shape).
    """
    arrays = onnx_initializers(card)
    _recover_transposed_convolutions(arrays)
    state = {}
    for key, current in net.state_dict().items():
        stored = arrays.get(PREFIX + key)
        if stored is None:
            if key.endswith("num_batches_tracked"):
                state[key] = current
                continue
            raise StemdeskError(
                f"{card.id!r} cannot initialise this network: its .onnx has no weight {key!r} "
                f"(a {card.architecture} of other sizes, or not exported by stemdesk's trainer)"
            )
        if tuple(stored.shape) != tuple(current.shape):
            raise StemdeskError(
                f"{card.id!r} cannot initialise this network: {key!r} is {list(stored.shape)} "
                f"in the model and {list(current.shape)} here (other sizes?)"
            )
        state[key] = torch.from_numpy(stored.copy()).to(current.dtype)
    return state


def _recover_transposed_convolutions(arrays: dict[str, np.ndarray]) -> None:
    """Replace each ``<stage>.subpixel.kernel/bias`` by the ``<stage>.deconv.weight/bias`` it was made from."""
    for name in [name for name in arrays if name.endswith(".subpixel.kernel")]:
        stage = name.removesuffix(".subpixel.kernel")
        kernel = torch.from_numpy(arrays.pop(name))
        bias = arrays.pop(f"{stage}.subpixel.bias")
        arrays[f"{stage}.deconv.weight"] = SubPixelUpsample.transposed_weight(kernel).numpy()
        # Each output channel's bias was repeated for its four phases.
        arrays[f"{stage}.deconv.bias"] = bias[::4].copy()


def load_installed_model(net: nn.Module, card: ModelCard, arch_name: str, config: Mapping) -> None:
    """Overwrite ``net``'s weights with those of the installed model ``card``."""
    if card.architecture != arch_name:
        raise StemdeskError(f"{card.id!r} is a {card.architecture}; it cannot initialise a {arch_name}")
    if card.channels != config["channels"] or card.bins != config["bins"]:
        raise StemdeskError(
            f"{card.id!r} reads {card.channels} channels x {card.bins} bins; "
            f"this network {config['channels']} x {config['bins']}"
        )
    net.load_state_dict(network_state_from_onnx(card, net))
