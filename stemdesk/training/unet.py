"""Spleeter-style U-Net that estimates one stem's soft mask from a magnitude spectrogram.

Layout everywhere in this module: ``(batch, channels, frames, bins)`` float32, the
channels being the audio channels (2 for stereo). The net halves frames and bins at
every encoder stage, so both must be multiples of ``2 ** len(filters)`` (64 for the
default six stages).

The topology follows Spleeter (Hennequin et al. 2020), which was built in TensorFlow;
the details below reproduce TensorFlow's behaviour so that its trained weights load:

* encoder stage: 5x5 stride-2 convolution with TF "same" padding (1 before, 2 after
  each spatial axis), then batch norm (eps 1e-3) and LeakyReLU(0.2);
* the skip connections carry the encoder's convolution output *before* its batch norm
  and activation, and so does the bottleneck: the deepest stage is a bare convolution;
* decoder stage: 5x5 stride-2 transposed convolution cropped to exactly twice its input
  size (TF "same"), then ReLU, then batch norm, then dropout 0.5 on the deepest three;
  exported to ONNX as the equivalent convolution and pixel shuffle (`SubPixelUpsample`);
* a last dilated 4x4 convolution maps the single decoder channel to one mask per
  audio channel, squashed by a sigmoid.
"""

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

SPLEETER_FILTERS = (16, 32, 64, 128, 256, 512)

# TensorFlow's momentum 0.99 for the running averages, in torch's convention.
_BATCH_NORM_MOMENTUM = 0.01
_BATCH_NORM_EPS = 1e-3


class EncoderStage(nn.Module):
    """Downsamples by 2 on both spatial axes.

    ``forward`` takes ``(batch, in_filters, frames, bins)`` float32 and returns
    ``(skip, activated)``, both ``(batch, out_filters, frames / 2, bins / 2)``: the raw
    convolution output (what the decoder concatenates) and its normalised, activated
    version (what the next encoder stage reads). ``activated`` is None for a stage built
    with ``normalise=False`` (the bottleneck).
    """

    def __init__(self, in_filters: int, out_filters: int, normalise: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_filters, out_filters, kernel_size=5, stride=2)
        self.norm = (
            nn.BatchNorm2d(out_filters, eps=_BATCH_NORM_EPS, momentum=_BATCH_NORM_MOMENTUM)
            if normalise
            else None
        )
        self.activation = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # TF "same" for an even input, kernel 5, stride 2 pads 3 in total, the odd one after.
        skip = self.conv(F.pad(x, (1, 2, 1, 2)))
        if self.norm is None:
            return skip, None
        return skip, self.activation(self.norm(skip))


class SubPixelUpsample(nn.Module):
    """A decoder stage's cropped transposed convolution, recast as a convolution and a pixel shuffle.

    Output row ``2m + a`` of the cropped 5x5 stride-2 transposed convolution reads only
    input rows ``m - 1 .. m + 1``, each through the one kernel row of matching parity
    (``k = a + 3 - 2j`` for input row ``m - 1 + j``; none when ``k < 0``), and likewise for
    columns. So each of the four output phases ``(a, b)`` is an ordinary 3x3 convolution
    with "same" padding; the four are stacked as channels and interleaved by
    ``pixel_shuffle``. Same result to float rounding, and ONNX Runtime's CPU kernels run
    it in half the working memory of its ConvTranspose (Spleeter's two U-Nets on a
    512-frame segment: ~100 instead of ~200 MB) and no slower.

    ``forward`` takes ``(batch, in_filters, frames, bins)`` float32 and returns
    ``(batch, out_filters, 2 * frames, 2 * bins)``. The kernel is computed once, from the
    transposed convolution's weights at construction: build it for export, not training.
    """

    # Index into the kernel padded by one zero tap in front (so k + 1) of input row
    # m - 1 + j, j = 0, 1, 2, for output phase a = 0 and a = 1.
    _TAPS = ((4, 2, 0), (5, 3, 1))

    def __init__(self, deconv: nn.ConvTranspose2d):
        super().__init__()
        if deconv.kernel_size != (5, 5) or deconv.stride != (2, 2) or deconv.padding != (0, 0):
            raise ValueError("SubPixelUpsample recasts 5x5 stride-2 unpadded transposed convolutions only")
        weight = F.pad(deconv.weight.detach(), (1, 0, 1, 0))  # (in, out, 6, 6)
        phases = [weight[:, :, rows][:, :, :, cols] for rows in self._TAPS for cols in self._TAPS]
        in_filters, out_filters = weight.shape[:2]
        # Channel c * 4 + 2a + b holds phase (a, b) of output channel c: pixel_shuffle's order.
        kernel = torch.stack(phases, dim=2).reshape(in_filters, out_filters * 4, 3, 3).transpose(0, 1)
        self.register_buffer("kernel", kernel.contiguous())
        self.register_buffer("bias", deconv.bias.detach().repeat_interleave(4))

    @classmethod
    def transposed_weight(cls, kernel: torch.Tensor) -> torch.Tensor:
        """The transposed convolution's weight ``(in, out, 5, 5)`` a ``kernel`` ``(out * 4, in, 3, 3)`` was made from.

        Every one of the 25 taps sits in exactly one phase, so this inverts the
        construction exactly (the phases' 11 always-zero taps are dropped).
        """
        in_filters = kernel.shape[1]
        phases = kernel.transpose(0, 1).reshape(in_filters, -1, 4, 3, 3)
        weight = phases.new_zeros(in_filters, phases.shape[1], 6, 6)
        phase = 0
        for rows in cls._TAPS:
            for cols in cls._TAPS:
                weight[:, :, torch.tensor(rows)[:, None], torch.tensor(cols)[None, :]] = phases[:, :, phase]
                phase += 1
        return weight[:, :, 1:, 1:].contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(F.conv2d(x, self.kernel, self.bias, padding=1), 2)


class DecoderStage(nn.Module):
    """Upsamples by 2 on both spatial axes.

    ``forward`` takes ``(batch, in_filters, frames, bins)`` float32 and returns
    ``(batch, out_filters, 2 * frames, 2 * bins)``.
    """

    def __init__(self, in_filters: int, out_filters: int, dropout: float = 0.0):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_filters, out_filters, kernel_size=5, stride=2)
        self.activation = nn.ReLU()
        self.norm = nn.BatchNorm2d(out_filters, eps=_BATCH_NORM_EPS, momentum=_BATCH_NORM_MOMENTUM)
        self.dropout = nn.Dropout(dropout)
        self.subpixel: SubPixelUpsample | None = None

    def prepare_for_onnx(self) -> None:
        """Upsample through `SubPixelUpsample`, with the weights as they are now, from now on."""
        self.subpixel = SubPixelUpsample(self.deconv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.subpixel is not None:
            y = self.subpixel(x)
        else:
            # The transposed convolution yields 2n + 3; TF "same" keeps [1, 2n + 1).
            y = self.deconv(x)[:, :, 1:-2, 1:-2]
        return self.dropout(self.norm(self.activation(y)))


class SpectrogramUNet(nn.Module):
    """Estimates a soft mask in [0, 1] for one stem.

    ``forward`` takes magnitudes ``(batch, channels, frames, bins)`` float32 (frames and
    bins multiples of ``2 ** len(filters)``) and returns the mask, same shape and dtype.
    The mask is not multiplied by the input: the caller decides how masks of several
    stems are combined.

    Args:
        channels: audio channels in and mask channels out.
        filters: feature maps of the encoder stages, shallowest first; the decoder mirrors
            them and ends on one feature map.
        dropout_stages: how many of the deepest decoder stages apply dropout.
        dropout: dropout probability of those stages (active in training mode only).
    """

    def __init__(
        self,
        channels: int = 2,
        filters: Sequence[int] = SPLEETER_FILTERS,
        dropout_stages: int = 3,
        dropout: float = 0.5,
    ):
        super().__init__()
        if len(filters) < 2:
            raise ValueError("a U-Net needs at least two encoder stages")
        self.channels = channels
        self.filters = tuple(filters)
        depth = len(self.filters)
        inputs = (channels,) + self.filters[:-1]
        self.encoder = nn.ModuleList(
            EncoderStage(i, o, normalise=k < depth - 1)
            for k, (i, o) in enumerate(zip(inputs, self.filters))
        )
        # Every decoder stage but the first reads its predecessor's output concatenated
        # with the skip of the same resolution, hence twice the filters.
        decoder_inputs = (self.filters[-1],) + tuple(2 * f for f in reversed(self.filters[:-1]))
        decoder_outputs = tuple(reversed(self.filters[:-1])) + (1,)
        self.decoder = nn.ModuleList(
            DecoderStage(i, o, dropout=dropout if k < dropout_stages else 0.0)
            for k, (i, o) in enumerate(zip(decoder_inputs, decoder_outputs))
        )
        self.to_mask = nn.Conv2d(1, channels, kernel_size=4, dilation=2, padding=3)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        skips = []
        x = magnitude
        for stage in self.encoder:
            skip, x = stage(x)
            skips.append(skip)
        y = skips.pop()
        for stage in self.decoder:
            y = stage(y)
            if skips:
                y = torch.cat([skips.pop(), y], dim=1)
        return torch.sigmoid(self.to_mask(y))


class StemMaskStack(nn.Module):
    """Runs one mask network per stem on the same input and stacks their masks.

    ``forward`` takes ``(batch, channels, frames, bins)`` float32 and returns
    ``(batch, stems, channels, frames, bins)`` float32, stems in the order given.
    Works for any network that maps a magnitude batch to a same-shaped mask.
    """

    def __init__(self, stem_nets: Sequence[nn.Module]):
        super().__init__()
        self.stem_nets = nn.ModuleList(stem_nets)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(magnitude) for net in self.stem_nets], dim=1)
