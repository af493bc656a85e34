"""Random training chunks of a MUSDB-layout folder, mixed on the fly for one target class.

A split is ``<root>/<split>/<track>/<class>.wav`` with the classes of
:data:`stemdesk.instruments.CLASSES`; ``mixture.wav`` is never read: every mixture here
is rebuilt from stems, target plus a random sub-mix of the others, so that
``mixture == target + rest`` holds exactly and one song yields many different mixes
(the "every sub-mix that contains the target" idea of the seeds, sampled instead of
enumerated).

Two stages (:data:`STAGES`): "mix" draws from every stem, as a model facing the whole
song needs; "other" only from what Demucs' "other" stem holds (every stem but vocals,
drums and bass), for second-stage models that find the guitar or the piano inside it.
A second stage also learns from what a real first stage leaves: the first stage's own
"other" of each song's full mix, computed once and cached beside the stems
(:mod:`stemdesk.training.first_stage`), drawn for a share of the chunks
(``MixingOptions.first_stage_probability``) with Demucs' bleed and artefacts in it.

Targets are the classes and the lead guitar ("guitar-lead", rendered as its own stem
beside "guitar-rhythm", whose sum is "guitar"): for it the rhythm guitar is part of the
rest, as a guitarist practising the solo wants.

Chunk ``index`` is a pure function of ``(seed, index)``: a run that resumes at step
``k`` asks for the same indices it would have asked for without the interruption,
and any number of loader workers produce the same batches.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import nn

from stemdesk.errors import StemdeskError
from stemdesk.instruments import CLASSES, SUBSTEMS


#: The stems each input stage is made of: the whole song, or what Demucs' "other" holds.
STAGES = {"mix": CLASSES, "other": ("guitar", "piano", "other")}
#: What a model can be trained to extract.
TARGETS = (*CLASSES, "guitar-lead")


def stem_set(target: str, stage: str = "mix") -> tuple[str, ...]:
    """The stems that make up the input at ``stage`` for ``target``: they never overlap,
    their sum is the input, and ``target`` is one of them (a class is split into its
    :data:`SUBSTEMS` when the target is one of those).

    Raises StemdeskError for an unknown target or stage, or a target the stage does not hold.
    """
    if target not in TARGETS:
        raise StemdeskError(f"Unknown target {target!r}; targets are {', '.join(TARGETS)}")
    if stage not in STAGES:
        raise StemdeskError(f"Unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    names = []
    for name in STAGES[stage]:
        names += SUBSTEMS[name] if target in SUBSTEMS.get(name, ()) else [name]
    if target not in names:
        raise StemdeskError(f"the {stage!r} stage holds no {target}: its stems are {', '.join(names)}")
    return tuple(names)


@dataclass(frozen=True)
class Track:
    """One multitrack song: its stem files by name, the frames all of them have, and the
    cached first-stage output of its full mix, if there is one."""

    name: str
    stems: dict[str, Path]
    frames: int
    first_stage: Path | None = None


def scan_split(
    folder: Path, sample_rate: int, names: tuple[str, ...] = CLASSES, first_stage: str | None = None
) -> list[Track]:
    """Every track folder of a split holding at least one of the stems ``names``
    (``<name>.wav``), sorted by name; with ``first_stage``, each track's
    ``<first_stage>.wav`` where it exists.

    A "guitar-rhythm" stem of a song without a lead guitar is its ``guitar.wav`` (the
    renderer writes the split only when a lead plays), which only a render that
    records each guitar part's stem in its metadata can vouch for.

    Raises StemdeskError when the folder is missing, holds no track, a stem has
    another sample rate than ``sample_rate``, or guitars cannot be split.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StemdeskError(f"No data split at {folder}: expected <root>/<split>/<track>/<class>.wav")
    tracks = []
    for track_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        stems = _stem_files(track_folder, names)
        if not stems:
            continue
        cached = track_folder / f"{first_stage}.wav" if first_stage else None
        if cached is not None and cached.is_file():
            stems_and_cache = [*stems.values(), cached]
        else:
            cached, stems_and_cache = None, list(stems.values())
        lengths = []
        for path in stems_and_cache:
            info = soundfile.info(path)
            if info.samplerate != sample_rate:
                raise StemdeskError(f"{path} is at {info.samplerate} Hz; training expects {sample_rate} Hz")
            lengths.append(info.frames)
        # Stems of one song can differ by a few samples; the shortest bounds every chunk.
        tracks.append(Track(track_folder.name, stems, min(lengths), cached))
    if not tracks:
        raise StemdeskError(f"No tracks with stems named {', '.join(names)} in {folder}")
    return tracks


def _stem_files(track_folder: Path, names: tuple[str, ...]) -> dict[str, Path]:
    stems = {name: track_folder / f"{name}.wav" for name in names if (track_folder / f"{name}.wav").is_file()}
    if "guitar-rhythm" in names and "guitar-rhythm" not in stems and "guitar-lead" not in stems:
        whole = track_folder / "guitar.wav"
        if whole.is_file():
            if not _guitars_were_split(track_folder):
                raise StemdeskError(
                    f"{track_folder} was rendered before lead and rhythm guitars had stems of their own: "
                    "render it again for a guitar-lead target"
                )
            stems["guitar-rhythm"] = whole
    return stems


def _guitars_were_split(track_folder: Path) -> bool:
    """Whether the renderer sent each guitar part to a lead or rhythm stem (and says so)."""
    try:
        parts = json.loads((track_folder / "metadata.json").read_text())["stems"]["guitar"]["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all("stem" in part for part in parts)


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
        first_stage_probability: chance that a chunk's input is the first stage's cached
            output of the target's song at that time (when the data set has one), target
            and input at one random gain; otherwise a sub-mix of stems as above.
    """

    same_track_probability: float = 0.5
    keep_probability: float = 0.75
    gain_db: tuple[float, float] = (-9.0, 3.0)
    swap_channels_probability: float = 0.5
    skip_silence: bool = True
    silence_db: float = -50.0
    max_tries: int = 32
    first_stage_probability: float = 0.0

    @classmethod
    def song_as_is(cls, first_stage_probability: float = 0.0) -> "MixingOptions":
        """The song's own full mix at unit gains, the first stage's output for a share
        ``first_stage_probability`` of chunks: for validation on held-out songs."""
        return cls(same_track_probability=1.0, keep_probability=1.0, gain_db=(0.0, 0.0), swap_channels_probability=0.0,
                   first_stage_probability=first_stage_probability)


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
        return self.spectrum(waveform).abs()

    def spectrum(self, waveform: torch.Tensor) -> torch.Tensor:
        """The complex STFT whose magnitudes :meth:`forward` gives: complex64, same layout."""
        leading = waveform.shape[:-1]
        spectrum = torch.stft(
            waveform.reshape(-1, waveform.shape[-1]), self.n_fft, self.hop_length, window=self.window,
            center=True, pad_mode="constant", return_complex=True,
        )
        spectrum = spectrum[:, : self.bins].transpose(1, 2)
        return spectrum.reshape(*leading, *spectrum.shape[1:])


class ChunkDataset(torch.utils.data.Dataset):
    """Chunks of ``chunk_samples`` samples for learning to extract ``target``.

    ``dataset[index]`` is ``(mixture, target)``, two float32 tensors: waveforms
    ``(channels, chunk_samples)``, or magnitudes ``(channels, frames, bins)`` when a
    ``spectrogram`` is given. There is no end: any index >= 0 is a chunk; callers say
    how many they take (a sampler over a range of indices).

    Args:
        root: folder holding the splits.
        split: sub-folder to draw from ("train", "valid", ...).
        target: what to extract (one of :data:`TARGETS`); only songs with a
            ``<target>.wav`` supply targets.
        chunk_samples: length of every chunk; shorter songs are zero-padded.
        seed: with the index, determines every random choice.
        mixing: how chunks are drawn and mixed.
        spectrogram: when given, items are its magnitudes instead of waveforms.
        channels: channels of every chunk; mono stems are duplicated.
        sample_rate: the rate every stem file must have.
        stage: which stems make an input (one of :data:`STAGES`).
        first_stage: the cached first-stage output's file name without ``.wav``
            (e.g. "htdemucs.other"), drawn as ``mixing.first_stage_probability`` says.
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
        stage: str = "mix",
        first_stage: str | None = None,
    ):
        names = stem_set(target, stage)
        self.tracks = scan_split(Path(root) / split, sample_rate, names, first_stage)
        self.target = target
        self.target_tracks = [t for t in self.tracks if target in t.stems]
        if not self.target_tracks:
            raise StemdeskError(f"No track in {Path(root) / split} has a {target}.wav stem")
        if mixing.first_stage_probability > 0 and not any(t.first_stage for t in self.target_tracks):
            raise StemdeskError(
                f"No track in {Path(root) / split} has a cached first stage {first_stage}.wav: "
                "run python -m stemdesk.training.first_stage first"
            )
        self.other_classes = [c for c in names if c != target and any(c in t.stems for t in self.tracks)]
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
        # Drawn only when asked for, so that data sets without a first stage keep their chunks.
        if self.mixing.first_stage_probability > 0 and rng.random() < self.mixing.first_stage_probability:
            if track.first_stage is not None:
                return self._first_stage_chunk(track, offset, target, rng)
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

    def _first_stage_chunk(self, track: Track, offset: int, target: np.ndarray, rng: np.random.Generator) -> MixedChunk:
        """The first stage's output of the song's full mix as the input: it holds the
        target and whatever the first stage left of the rest (bleed, artefacts), so
        ``rest`` is just what is not the target."""
        mixture = self._read(track.first_stage, offset)
        gain = np.float32(10.0 ** (rng.uniform(*self.mixing.gain_db) / 20.0))
        if rng.random() < self.mixing.swap_channels_probability:
            mixture, target = mixture[::-1], target[::-1]
        mixture, target = np.ascontiguousarray(mixture * gain), np.ascontiguousarray(target * gain)
        peak = float(np.abs(mixture).max())
        if peak > 1.0:
            mixture, target = mixture / np.float32(peak), target / np.float32(peak)
        return MixedChunk(mixture, target, mixture - target)

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

