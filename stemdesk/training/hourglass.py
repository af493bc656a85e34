"""Stacked Hourglass network that estimates one stem's soft mask.

After Park et al. 2018 ("Music source separation using stacked hourglass networks",
ISMIR), who carried Newell et al.'s pose-estimation hourglass over to spectrograms:
each hourglass pools the feature map down ``depth`` times and upsamples it back,
adding a same-resolution residual branch at every level, so one module sees both
fine time-frequency detail and long-range context. Several hourglasses are stacked;
each ends in a mask that is supervised on its own (intermediate supervision) and
whose projection is fed back into the features the next hourglass refines.

Layout: ``(batch, channels, frames, bins)`` float32, stemdesk's engine layout; both
frames and bins must be multiples of ``2 ** depth``.
"""

import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlock(nn.Module):
    """Pre-activation bottleneck block (1x1, 3x3, 1x1 convolutions) plus identity.

    ``forward`` maps ``(batch, features, frames, bins)`` to the same shape.
    """

    def __init__(self, features: int):
        super().__init__()
        narrow = max(features // 2, 1)
        self.layers = nn.Sequential(
            nn.BatchNorm2d(features), nn.ReLU(), nn.Conv2d(features, narrow, 1),
            nn.BatchNorm2d(narrow), nn.ReLU(), nn.Conv2d(narrow, narrow, 3, padding=1),
            nn.BatchNorm2d(narrow), nn.ReLU(), nn.Conv2d(narrow, features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class Hourglass(nn.Module):
    """One hourglass of ``depth`` levels, built recursively.

    ``forward`` maps ``(batch, features, frames, bins)`` to the same shape; frames and
    bins must be multiples of ``2 ** depth``.
    """

    def __init__(self, features: int, depth: int):
        super().__init__()
        self.skip = ResidualBlock(features)
        self.down = ResidualBlock(features)
        self.inner = Hourglass(features, depth - 1) if depth > 1 else ResidualBlock(features)
        self.up = ResidualBlock(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.up(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.skip(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class StackedHourglass(nn.Module):
    """Estimates a soft mask in [0, 1] for one stem.

    ``forward`` takes magnitudes ``(batch, channels, frames, bins)`` float32 and
    returns the last hourglass's mask, same shape; :meth:`stack_masks` returns every
    hourglass's mask, for intermediate supervision.

    Args:
        channels: audio channels in and mask channels out.
        features: feature maps inside the hourglasses.
        stacks: hourglasses in sequence.
        depth: poolings per hourglass; frames and bins must be multiples of ``2 ** depth``.
    """

    def __init__(self, channels: int = 2, features: int = 64, stacks: int = 4, depth: int = 4):
        super().__init__()
        if stacks < 1 or depth < 1:
            raise ValueError("a stacked hourglass needs at least one stack and one pooling")
        self.channels = channels
        self.stem = nn.Sequential(
            nn.Conv2d(channels, features, 7, padding=3), nn.BatchNorm2d(features), nn.ReLU(), ResidualBlock(features)
        )
        self.hourglasses = nn.ModuleList(Hourglass(features, depth) for _ in range(stacks))
        self.heads = nn.ModuleList(
            nn.Sequential(ResidualBlock(features), nn.Conv2d(features, features, 1), nn.BatchNorm2d(features), nn.ReLU())
            for _ in range(stacks)
        )
        self.to_mask = nn.ModuleList(nn.Conv2d(features, channels, 1) for _ in range(stacks))
        # The last stack's features and mask feed nothing, so only stacks - 1 remaps.
        self.remap_features = nn.ModuleList(nn.Conv2d(features, features, 1) for _ in range(stacks - 1))
        self.remap_mask = nn.ModuleList(nn.Conv2d(channels, features, 1) for _ in range(stacks - 1))

    def stack_masks(self, magnitude: torch.Tensor) -> list[torch.Tensor]:
        """Every hourglass's mask, first to last, each ``(batch, channels, frames, bins)``."""
        # Magnitudes span orders of magnitude; the log keeps quiet partials visible to
        # the first convolution, as a musician's ear (and a dB scale) would.
        x = self.stem(torch.log1p(magnitude))
        masks = []
        for index, (hourglass, head, to_mask) in enumerate(zip(self.hourglasses, self.heads, self.to_mask)):
            features = head(hourglass(x))
            masks.append(torch.sigmoid(to_mask(features)))
            if index < len(self.remap_features):
                x = x + self.remap_features[index](features) + self.remap_mask[index](masks[-1])
        return masks

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.stack_masks(magnitude)[-1]
