"""Open-Unmix: a bidirectional-LSTM network that estimates one stem's magnitude.

After Stöter et al. 2019 (JOSS 4(41), 1667): standardise the input magnitudes per
bin, compress each frame (all channels' bins) to ``hidden`` features, run a
three-layer bidirectional LSTM over time, concatenate its input and output (a skip
connection), expand back to one value per channel and bin, rescale per bin and use
the ReLU of that as a mask on the input. The network's output is the masked input:
a magnitude estimate, not a mask.

Layout: ``(batch, channels, frames, bins)`` float32, stemdesk's engine layout.
The LSTM runs along ``frames``; an exported graph handles the frame count it was
traced with (the engine always feeds its fixed segment).
"""

import torch
from torch import nn


class OpenUnmix(nn.Module):
    """Estimates one stem's magnitude spectrogram from the mixture's.

    ``forward`` takes magnitudes ``(batch, channels, frames, input_bins)`` float32
    with ``input_bins >= bins`` and returns the estimate ``(batch, channels, frames,
    bins)`` float32, non-negative: the network only looks at, and only estimates, the
    lowest ``bins`` bins.

    Args:
        channels: audio channels in and out.
        bins: frequency bins the network sees and estimates.
        hidden: width of the frame features; each LSTM direction has ``hidden // 2``.
        lstm_layers: stacked bidirectional LSTM layers.
        dropout: dropout between LSTM layers (training mode only).
    """

    def __init__(self, channels: int = 2, bins: int = 1024, hidden: int = 512, lstm_layers: int = 3, dropout: float = 0.4):
        super().__init__()
        if hidden % 2:
            raise ValueError("hidden must be even: the two LSTM directions share it")
        self.channels = channels
        self.bins = bins
        # Learnable standardisation; set_input_statistics gives it the data's mean and scale.
        self.input_mean = nn.Parameter(torch.zeros(bins))
        self.input_scale = nn.Parameter(torch.ones(bins))
        # Biases would be cancelled by the batch norms that follow each linear layer.
        self.encode = nn.Linear(channels * bins, hidden, bias=False)
        self.encode_norm = nn.BatchNorm1d(hidden)
        self.lstm = nn.LSTM(
            hidden, hidden // 2, num_layers=lstm_layers, bidirectional=True, batch_first=True,
            dropout=dropout if lstm_layers > 1 else 0.0,
        )
        self.merge = nn.Linear(2 * hidden, hidden, bias=False)
        self.merge_norm = nn.BatchNorm1d(hidden)
        self.decode = nn.Linear(hidden, channels * bins, bias=False)
        self.decode_norm = nn.BatchNorm1d(channels * bins)
        self.output_scale = nn.Parameter(torch.ones(bins))
        self.output_mean = nn.Parameter(torch.ones(bins))

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Initialise the standardisation from data: per-bin ``(bins,)`` mean and std
        of mixture magnitudes. Tiny deviations are floored so silent bins stay finite."""
        with torch.no_grad():
            self.input_mean.copy_(-mean[: self.bins])
            self.input_scale.copy_(1.0 / torch.clamp(std[: self.bins], min=1e-4))

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        mixture = magnitude[..., : self.bins]
        batch, channels, frames, bins = mixture.shape
        x = (mixture + self.input_mean) * self.input_scale
        # One feature vector per frame holding every channel's bins: (batch * frames, channels * bins).
        x = x.permute(0, 2, 1, 3).reshape(batch * frames, channels * bins)
        x = torch.tanh(self.encode_norm(self.encode(x)))
        x = x.reshape(batch, frames, -1)
        recurrent, _ = self.lstm(x)
        x = torch.cat([x, recurrent], dim=-1).reshape(batch * frames, -1)
        x = torch.relu(self.merge_norm(self.merge(x)))
        x = self.decode_norm(self.decode(x))
        x = x.reshape(batch, frames, channels, bins).permute(0, 2, 1, 3)
        mask = torch.relu(x * self.output_scale + self.output_mean)
        return mask * mixture
