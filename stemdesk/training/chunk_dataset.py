"""Random training chunks of a MUSDB-layout folder, mixed on the fly for one target class.

A split is ``<root>/<split>/<track>/<class>.wav`` with the classes of
:data:`stemdesk.instruments.CLASSES`; ``mixture.wav`` is never read: every mixture here
is rebuilt from stems, target plus a random sub-mix of the others, so that
``mixture == target + rest`` holds exactly and one song yields many different mixes
(the "every sub-mix that contains the target" idea of the seeds, sampled instead of
enumerated).

Chunk ``index`` is a pure function of ``(seed, index)``: a run that resumes at step
``k`` asks for the same indices it would have asked for without the interruption,
and any number of loader workers produce the same batches.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import nn

from stemdesk.errors import StemdeskError
from stemdesk.instruments import CLASSES


@dataclass(frozen=True)
class Track:
    """One multitrack song: its stem files by class and the frames all of them have."""

    name: str
    stems: dict[str, Path]
    frames: int


def scan_split(folder: Path, sample_rate: int) -> list[Track]:
    """Every track folder of a split holding at least one ``<class>.wav``, sorted by name.

    Raises StemdeskError when the folder is missing, holds no track, or a stem has
    another sample rate than ``sample_rate``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StemdeskError(f"No data split at {folder}: expected <root>/<split>/<track>/<class>.wav")
    tracks = []
    for track_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        stems = {name: track_folder / f"{name}.wav" for name in CLASSES if (track_folder / f"{name}.wav").is_file()}
        if not stems:
            continue
        lengths = []
        for path in stems.values():
            info = soundfile.info(path)
            if info.samplerate != sample_rate:
                raise StemdeskError(f"{path} is at {info.samplerate} Hz; training expects {sample_rate} Hz")
            lengths.append(info.frames)
        # Stems of one song can differ by a few samples; the shortest bounds every chunk.
        tracks.append(Track(track_folder.name, stems, min(lengths)))
    if not tracks:
        raise StemdeskError(f"No tracks with stems named after {', '.join(CLASSES)} in {folder}")
    return tracks


@dataclass(frozen=True)
class MixingOptions:
    """How chunks are drawn and mixed.

    Attributes:
        same_track_probability: chance that the rest comes from the target's own song at
            the same time (a real arrangement); otherwise each other class comes from
            a random song at a random time (new combinations, as Open-Unmix trains).
        keep_probability: chance that each other stem takes part in the sub-mix.
        gain_db: range of the random gain of every stem, target included.
        swap_channels_probability: chance that a stem's left and right are swapped.
        skip_silence: redraw the target chunk while it is quieter than ``silence_db``.
        silence_db: RMS level in dB re full scale below which a target chunk is silent.
        max_tries: draws before settling for the loudest target chunk found.
    """

    same_track_probability: float = 0.5
    keep_probability: float = 0.75
    gain_db: tuple[float, float] = (-9.0, 3.0)
    swap_channels_probability: float = 0.5
    skip_silence: bool = True
    silence_db: float = -50.0
    max_tries: int = 32

    @classmethod
    def song_as_is(cls) -> "MixingOptions":
        """The song's own full mix at unit gains: for validation on held-out songs."""
        return cls(same_track_probability=1.0, keep_probability=1.0, gain_db=(0.0, 0.0), swap_channels_probability=0.0)


@dataclass(frozen=True)
class MixedChunk:
    """One training example, float32 ``(channels, samples)`` each: ``mixture = target + rest``."""

    mixture: np.ndarray
    target: np.ndarray
    rest: np.ndarray


class MagnitudeSpectrogram(nn.Module):
    """Magnitudes of the engine's STFT (stemdesk.dsp): centred, zero-padded, periodic
    Hann, unnormalised, the lowest ``bins`` bins.

    ``forward`` takes float32 ``(..., channels, samples)`` and returns float32
    ``(..., channels, 1 + samples // hop_length, bins)``: frames before bins, the
    layout the networks read.
    """

    def __init__(self, n_fft: int, hop_length: int, bins: int):
        super().__init__()
        self.n_fft, self.hop_length, self.bins = n_fft, hop_length, bins
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        leading = waveform.shape[:-1]
        spectrum = torch.stft(
            waveform.reshape(-1, waveform.shape[-1]), self.n_fft, self.hop_length, window=self.window,
            center=True, pad_mode="constant", return_complex=True,
        )
        magnitude = spectrum[:, : self.bins].abs().transpose(1, 2)
        return magnitude.reshape(*leading, *magnitude.shape[1:])


class ChunkDataset(torch.utils.data.Dataset):
    """Chunks of ``chunk_samples`` samples for learning to extract ``target``.

    ``dataset[index]`` is ``(mixture, target)``, two float32 tensors: waveforms
    ``(channels, chunk_samples)``, or magnitudes ``(channels, frames, bins)`` when a
    ``spectrogram`` is given. There is no end: any index >= 0 is a chunk; callers say
    how many they take (a sampler over a range of indices).

    Args:
        root: folder holding the splits.
        split: sub-folder to draw from ("train", "valid", ...).
        target: the class to extract; only songs with a ``<target>.wav`` supply targets.
        chunk_samples: length of every chunk; shorter songs are zero-padded.
        seed: with the index, determines every random choice.
        mixing: how chunks are drawn and mixed.
        spectrogram: when given, items are its magnitudes instead of waveforms.
        channels: channels of every chunk; mono stems are duplicated.
        sample_rate: the rate every stem file must have.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        target: str,
        chunk_samples: int,
        seed: int = 0,
        mixing: MixingOptions = MixingOptions(),
        spectrogram: MagnitudeSpectrogram | None = None,
        channels: int = 2,
        sample_rate: int = 44100,
    ):
        if target not in CLASSES:
            raise StemdeskError(f"Unknown target {target!r}; classes are {', '.join(CLASSES)}")
        self.tracks = scan_split(Path(root) / split, sample_rate)
        self.target = target
        self.target_tracks = [t for t in self.tracks if target in t.stems]
        if not self.target_tracks:
            raise StemdeskError(f"No track in {Path(root) / split} has a {target}.wav stem")
        self.other_classes = [c for c in CLASSES if c != target and any(c in t.stems for t in self.tracks)]
        self.chunk_samples = chunk_samples
        self.seed = seed
        self.mixing = mixing
        self.spectrogram = spectrogram
        self.channels = channels

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.mix(index)
        mixture, target = torch.from_numpy(chunk.mixture), torch.from_numpy(chunk.target)
        if self.spectrogram is None:
            return mixture, target
        with torch.no_grad():
            return self.spectrogram(mixture), self.spectrogram(target)

    def mix(self, index: int) -> MixedChunk:
        """Chunk ``index``: a target excerpt, a sub-mix of other stems, random gains."""
        if index < 0:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        track, offset, target = self._draw_target(rng)
        if rng.random() < self.mixing.same_track_probability:
            sources = [(track, name, offset) for name in track.stems if name != self.target]
        else:
            sources = []
            for name in self.other_classes:
                donors = [t for t in self.tracks if name in t.stems]
                donor = donors[rng.integers(len(donors))]
                sources.append((donor, name, self._random_offset(donor, rng)))
        kept = [source for source in sources if rng.random() < self.mixing.keep_probability]
        target = self._augment(target, rng)
        rest = np.zeros_like(target)
        for donor, name, donor_offset in kept:
            rest += self._augment(self._read(donor.stems[name], donor_offset), rng)
        mixture = target + rest
        # Real mixes do not clip; one common scale keeps mixture = target + rest.
        peak = float(np.abs(mixture).max())
        if peak > 1.0:
            mixture, target, rest = mixture / peak, target / peak, rest / peak
        return MixedChunk(mixture, target, rest)

    def _draw_target(self, rng: np.random.Generator) -> tuple[Track, int, np.ndarray]:
        """A (track, offset, target excerpt) that is not silent if that can be found."""
        best = None
        for _ in range(self.mixing.max_tries if self.mixing.skip_silence else 1):
            track = self.target_tracks[rng.integers(len(self.target_tracks))]
            offset = self._random_offset(track, rng)
            excerpt = self._read(track.stems[self.target], offset)
            level = 10.0 * np.log10(float(np.mean(np.square(excerpt, dtype=np.float64))) + 1e-20)
            if best is None or level > best[0]:
                best = (level, track, offset, excerpt)
            if level >= self.mixing.silence_db:
                break
        return best[1:]

    def _random_offset(self, track: Track, rng: np.random.Generator) -> int:
        return int(rng.integers(max(track.frames - self.chunk_samples, 0) + 1))

    def _read(self, path: Path, offset: int) -> np.ndarray:
        """float32 ``(channels, chunk_samples)`` from ``offset``, zero-padded past the end."""
        data, _ = soundfile.read(path, start=offset, frames=self.chunk_samples, dtype="float32", always_2d=True)
        excerpt = np.zeros((self.channels, self.chunk_samples), dtype=np.float32)
        data = data.T
        if data.shape[0] < self.channels:
            data = np.repeat(data[:1], self.channels, axis=0)
        excerpt[:, : data.shape[1]] = data[: self.channels]
        return excerpt

    def _augment(self, stem: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gain = 10.0 ** (rng.uniform(*self.mixing.gain_db) / 20.0)
        if rng.random() < self.mixing.swap_channels_probability:
            stem = stem[::-1]
        return (stem * np.float32(gain)).astype(np.float32, copy=False)


def chunk_samples_for(frames: int, hop_length: int) -> int:
    """Samples whose centred STFT has exactly ``frames`` frames (as the engine's chunks)."""
    return (frames - 1) * hop_length

