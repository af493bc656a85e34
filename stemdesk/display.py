"""What the window draws, computed at display resolution: pure numpy, no Qt.

A song of any length becomes a few thousand spectrogram columns on a log
frequency axis and a min/max envelope per pixel column, so drawing never
depends on the song's length (a 10-minute song at 44.1 kHz has 26 million
samples; the views get about a million values).

The spectrogram and the masks share one display STFT: a mono mixdown, a
Hann window of ``n_fft`` samples and a hop wide enough to give at most
``max_frames`` frames. When the hop exceeds the window, frames sample the
song rather than cover it, which is what a zoomed-out picture needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import dsp

#: Floor of the dB scale: quieter cells all show as the darkest colour.
FLOOR_DB = -100.0
#: Lowest frequency drawn; below it music holds little and bins are too sparse.
MIN_FREQUENCY = 30.0


@dataclass(frozen=True)
class DisplayGrid:
    """Where the display STFT looks: frame times and log-spaced frequency rows.

    ``hop`` and ``n_fft`` are in samples at ``rate``. ``row_edges`` are the
    ``rows + 1`` frequency band edges in Hz, geometrically spaced; row ``r``
    shows the band ``[row_edges[r], row_edges[r + 1])``.
    """

    rate: int
    num_samples: int
    n_fft: int
    hop: int
    row_edges: np.ndarray

    @property
    def frames(self) -> int:
        return dsp.num_frames(self.num_samples, self.hop)

    @property
    def rows(self) -> int:
        return len(self.row_edges) - 1

    @property
    def frame_seconds(self) -> float:
        """Seconds between frame centres."""
        return self.hop / self.rate

    @property
    def row_centres(self) -> np.ndarray:
        """float64 ``(rows,)`` geometric centre of each row's band, in Hz."""
        return np.sqrt(self.row_edges[:-1] * self.row_edges[1:])


def display_grid(
    num_samples: int, rate: int, max_frames: int = 2000, rows: int = 256, n_fft: int = 2048
) -> DisplayGrid:
    """The display STFT for a song of ``num_samples`` samples at ``rate``.

    The hop is a quarter window for short songs and grows so that the song
    spans at most ``max_frames`` frames.
    """
    if num_samples < 1 or rate < 1:
        raise ValueError(f"need a non-empty song, got {num_samples} samples at {rate} Hz")
    hop = max(n_fft // 4, -(-num_samples // (max_frames - 1)))
    top = rate / 2
    edges = np.geomspace(min(MIN_FREQUENCY, top / 2), top, rows + 1)
    return DisplayGrid(rate=rate, num_samples=num_samples, n_fft=n_fft, hop=hop, row_edges=edges)


def _mono(samples: np.ndarray) -> np.ndarray:
    """float32 ``(1, samples)`` mean of the channels of ``(channels, samples)``."""
    return samples.mean(axis=0, keepdims=True, dtype=np.float32)


def _frames(samples: np.ndarray, grid: DisplayGrid) -> np.ndarray:
    """float32 ``(frames, n_fft)``: the mono mixdown around each frame centre.

    The same centred framing as :func:`stemdesk.dsp.stft` (zeros beyond the
    ends), but only the samples the frames touch are read and mixed down:
    with a hop wider than the window that is a fraction of a long song.
    """
    starts = np.arange(grid.frames) * grid.hop - grid.n_fft // 2
    out = np.zeros((grid.frames, grid.n_fft), dtype=np.float32)
    whole = (starts >= 0) & (starts + grid.n_fft <= grid.num_samples)
    if whole.any():
        windows = sliding_window_view(samples, grid.n_fft, axis=-1)
        out[whole] = windows[:, starts[whole]].mean(axis=0, dtype=np.float32)
    # Only the few frames overhanging an end of the song are left.
    for frame in np.flatnonzero(~whole):
        lo, hi = max(starts[frame], 0), min(starts[frame] + grid.n_fft, grid.num_samples)
        out[frame, lo - starts[frame] : hi - starts[frame]] = samples[:, lo:hi].mean(axis=0)
    return out


def band_magnitudes(samples: np.ndarray, grid: DisplayGrid) -> np.ndarray:
    """Magnitude of the mono mixdown of ``samples`` in each row band and frame.

    Args:
        samples: float32 ``(channels, grid.num_samples)``.

    Returns:
        float32 ``(grid.rows, grid.frames)``: the mean linear-bin magnitude in
        each band, or the magnitude interpolated at the band's centre where the
        band is narrower than the bin spacing (low frequencies).
    """
    if samples.shape[-1] != grid.num_samples:
        raise ValueError(f"expected {grid.num_samples} samples, got {samples.shape[-1]}")
    # (frames, bins): each frame's bins are contiguous for the running sum below.
    magnitude = np.abs(np.fft.rfft(_frames(samples, grid) * dsp.hann_window(grid.n_fft), axis=-1))
    bins = magnitude.shape[1]
    bin_width = grid.rate / grid.n_fft
    # Band [lo, hi) in bins; a running sum gives every band's total in one subtraction.
    lo = np.ceil(grid.row_edges[:-1] / bin_width).astype(np.intp)
    hi = np.minimum(np.ceil(grid.row_edges[1:] / bin_width).astype(np.intp), bins)
    running = np.zeros((magnitude.shape[0], bins + 1), dtype=np.float64)
    np.cumsum(magnitude, axis=1, out=running[:, 1:])
    counts = hi - lo
    wide = counts > 0
    out = np.empty((grid.rows, magnitude.shape[0]), dtype=np.float32)
    out[wide] = ((running[:, hi[wide]] - running[:, lo[wide]]) / counts[wide]).T
    # Narrow bands: linear interpolation between the two bins around the centre.
    position = grid.row_centres[~wide] / bin_width
    below = np.minimum(np.floor(position).astype(np.intp), bins - 2)
    fraction = (position - below).astype(np.float32)
    out[~wide] = (magnitude[:, below] * (1 - fraction) + magnitude[:, below + 1] * fraction).T
    return out


def to_db(magnitude: np.ndarray, reference: float | None = None) -> np.ndarray:
    """float32 dB of ``magnitude`` relative to ``reference`` (default: its maximum), floored at FLOOR_DB."""
    peak = float(magnitude.max()) if reference is None else reference
    if peak <= 0:
        return np.full(magnitude.shape, FLOOR_DB, dtype=np.float32)
    db = 20.0 * np.log10(np.maximum(magnitude / peak, 10.0 ** (FLOOR_DB / 20.0)))
    return db.astype(np.float32)


def effective_masks(stems: dict[str, np.ndarray], mixture: np.ndarray) -> dict[str, np.ndarray]:
    """The mask of each stem for display: its power over the sum of the stems' powers.

    What a mask network's normalised masks are, and the effective mask of a model
    that returns waveforms (Demucs), so the view means the same for both.

    Args:
        stems: name -> float32 band magnitudes ``(rows, frames)``; mixture: the
            mixture's, all from :func:`band_magnitudes` on the same grid.

    Returns:
        name -> float32 ``(rows, frames)`` in 0..1, summing to 1 across stems; 0 where
        the mixture is silent (more than FLOOR_DB below its peak), where a share means nothing.
    """
    silent = mixture <= float(mixture.max()) * 10.0 ** (FLOOR_DB / 20.0)
    powers = {name: np.square(bands, dtype=np.float32) for name, bands in stems.items()}
    total = sum(powers.values())
    audible = ~silent & (total > 0)
    return {
        name: np.divide(power, total, out=np.zeros_like(power), where=audible) for name, power in powers.items()
    }


def waveform_envelope(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of the mono mixdown in each of ``columns`` equal time slices.

    Args:
        samples: float32 ``(channels, samples)``.

    Returns:
        Two float32 ``(min(columns, samples),)`` arrays, lows and highs; slice
        ``k`` covers samples ``[k * samples // columns, (k + 1) * samples // columns)``.
    """
    mono = _mono(samples)[0]
    columns = max(1, min(columns, mono.size))
    edges = np.arange(columns) * mono.size // columns
    return np.minimum.reduceat(mono, edges), np.maximum.reduceat(mono, edges)


@dataclass(frozen=True)
class SongPicture:
    """Everything the views draw for one separated song.

    ``spectrogram_db``: float32 ``(rows, frames)``, mixture level in dB
    (0 at its loudest). ``masks``: stem name -> float32 ``(rows, frames)`` in
    0..1. ``envelope``: (lows, highs), float32 ``(columns,)`` each.
    """

    grid: DisplayGrid
    spectrogram_db: np.ndarray
    masks: dict[str, np.ndarray]
    envelope: tuple[np.ndarray, np.ndarray]

    @property
    def duration(self) -> float:
        return self.grid.num_samples / self.grid.rate


def song_picture(
    mixture: np.ndarray,
    stems: dict[str, np.ndarray],
    rate: int,
    max_frames: int = 2000,
    rows: int = 256,
    envelope_columns: int = 2000,
) -> SongPicture:
    """The display spectrogram, stem masks and waveform envelope of one song.

    Args:
        mixture: float32 ``(channels, samples)``.
        stems: name -> float32 ``(channels, samples)``, same length as ``mixture``.
    """
    grid = display_grid(mixture.shape[-1], rate, max_frames=max_frames, rows=rows)
    mixture_bands = band_magnitudes(mixture, grid)
    masks = effective_masks({name: band_magnitudes(stem, grid) for name, stem in stems.items()}, mixture_bands)
    return SongPicture(
        grid=grid,
        spectrogram_db=to_db(mixture_bands),
        masks=masks,
        envelope=waveform_envelope(mixture, envelope_columns),
    )
