"""Render one track and write it in the MUSDB18 layout, so synthetic and real data load alike.

``<root>/<split>/<track>/`` holds ``<class>.wav`` for each stemdesk class the song has
(16-bit), ``mixture.wav`` (24-bit, exactly the sum of the stems) and
``metadata.json``, and for procedural songs ``beats.json`` (beat and downbeat
labels, :mod:`~stemdesk.training.synth.labels`); a song with a lead guitar also has
``guitar-lead.wav`` and (if other guitars play) ``guitar-rhythm.wav``, whose sum ``guitar.wav``
is. The metadata is written last: a track folder without it (a render
that was interrupted) is incomplete and is rendered again on resume.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, atomic_path, write_audio
from stemdesk.instruments import SUBSTEMS
from stemdesk.training.synth.arrangement import compose
from stemdesk.training.synth.effects import augment_part
from stemdesk.training.synth.mixdown import (
    class_stems,
    fit_to_pcm16,
    level_part,
    mixture_of,
    sum_by_stem,
)
from stemdesk.training.synth.labels import write_labels
from stemdesk.training.synth.render import fresh_synthesizer, render_part
from stemdesk.training.synth.scores import score_song
from stemdesk.training.synth.silence import active_fraction
from stemdesk.training.synth.song import Part, Song

METADATA = "metadata.json"
MIXTURE = "mixture.wav"
SOURCES = ("procedural", "music21", "both")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrackRequest:
    """Everything that determines one track: same request, same files.

    ``source`` is "procedural", "music21" or "both" (the track's seed then picks one,
    procedural three times in four); ``genre`` restricts procedural songs to one genre;
    ``timbre`` is one of :data:`~stemdesk.training.synth.effects.TIMBRES`.
    """

    root: Path
    split: str
    index: int
    dataset_seed: int
    seconds: float
    soundfont: Path
    source: str = "procedural"
    rate: int = 44100
    augment: bool = True
    genre: str | None = None
    timbre: str = "classic"

    @property
    def seed(self) -> int:
        """This track's own seed, from the data set's seed, the split and the track's index:
        a test split rendered with the training seed still gets songs of its own."""
        entropy = [self.dataset_seed, zlib.crc32(self.split.encode()), self.index]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])

    @property
    def name(self) -> str:
        return f"s{self.dataset_seed}-{self.index:05d}"

    @property
    def folder(self) -> Path:
        return Path(self.root) / self.split / self.name


@dataclass(frozen=True)
class TrackResult:
    """A written track: its folder, the classes written and how long rendering took (s)."""

    folder: Path
    classes: tuple[str, ...]
    seconds_rendered: float
    skipped: bool = False


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished track: metadata plus every file it lists."""
    try:
        metadata = json.loads((folder / METADATA).read_text())
    except (OSError, ValueError):
        return False
    stems = metadata.get("stems", {}).values()
    files = [MIXTURE, *(stem["file"] for stem in stems), *(f for stem in stems for f in stem.get("substems", {}).values())]
    return all((folder / name).is_file() for name in files)


def song_for(request: TrackRequest) -> Song:
    """The song a request renders (cheap for procedural songs; music21 parses a score)."""
    source = request.source
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    if source == "both":
        source = "procedural" if random.Random(request.seed).random() < 0.75 else "music21"
    if source == "procedural":
        return compose(request.seed, request.seconds, request.genre)
    return score_song(request.seed, request.seconds, request.split)


def render_track(request: TrackRequest) -> TrackResult:
    """Render and write the track of ``request``, or skip it if its folder is complete."""
    if is_complete(request.folder):
        return TrackResult(request.folder, (), 0.0, skipped=True)
    began = time.perf_counter()
    song = song_for(request)
    fine, described = render_stems(song, request)
    stems = class_stems(fine)
    substems = split_classes(fine)
    folder = request.folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in (*stems.items(), *substems.items()):
        write_audio(folder / f"{name}.wav", Audio(audio, request.rate), "PCM_16")
    write_audio(folder / MIXTURE, Audio(mixture_of(stems), request.rate), "PCM_24")
    write_labels(folder, song, request.seconds)
    metadata = _metadata(request, song, stems, substems, described)
    with atomic_path(folder / METADATA) as temp:
        temp.write_text(json.dumps(metadata, indent=1))
    return TrackResult(folder, tuple(stems), time.perf_counter() - began)


def render_stems(song: Song, request: TrackRequest) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
    """Stems (float32 ``(2, samples)`` on the 16-bit grid: classes, guitars as their lead
    and rhythm stems, see :func:`~stemdesk.training.synth.mixdown.class_stems`) and, per
    class, what each part was: name, program really used, style, role, pan, gain and effects.

    Parts that make no sound in the excerpt are left out, and so is a stem with none.
    """
    rng = np.random.default_rng(request.seed)
    num_samples = round(request.seconds * request.rate)
    rendered: list[tuple[str, np.ndarray]] = []
    described: dict[str, list[dict]] = {}
    pans = [_pan(part, rng) for part in song.parts]
    with fresh_synthesizer(str(request.soundfont), request.rate) as synth:
        dry = [render_part(synth, part, num_samples, pan) for part, pan in zip(song.parts, pans)]
    for part, pan, (audio, program) in zip(song.parts, pans, dry):
        offset_db = float(rng.uniform(-6.0, 4.0)) if request.augment else 0.0
        if not np.any(audio):
            continue
        effects: list[str] = []
        if request.augment:
            # Levelled first: compressors and amps act on a part at mix level, as in a
            # studio, whatever the SoundFont's own loudness.
            levelled = level_part(audio, request.rate, part.stem_class, 0.0)
            audio, effects = augment_part(levelled, request.rate, part, rng, request.timbre)
        rendered.append((part.stem, level_part(audio, request.rate, part.stem_class, offset_db)))
        described.setdefault(part.stem_class, []).append({
            "name": part.name, "program": program, "style": part.style, "stem": part.stem, "notes": len(part.notes),
            "pan": pan, "gain_db": round(offset_db, 2), "effects": effects,
        })
    if not rendered:
        raise RuntimeError(f"'{song.title}' rendered to silence")
    peak = 10 ** (rng.uniform(-6.0, -1.0) / 20) if request.augment else 10 ** (-1.0 / 20)
    return fit_to_pcm16(sum_by_stem(rendered), peak), described


def split_classes(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The substems worth their own files: those of a class whose first substem (the
    guitar's lead) plays; without it the class stem is all the second (rhythm) already."""
    return {
        name: stems[name]
        for names in SUBSTEMS.values() if names[0] in stems
        for name in names if name in stems
    }


def _pan(part: Part, rng: np.random.Generator) -> int:
    """MIDI pan: drums and bass sit in the middle of a mix, the rest spreads across it."""
    return int(rng.integers(54, 75) if part.stem_class in ("drums", "bass") else rng.integers(20, 109))


def _metadata(
    request: TrackRequest, song: Song, stems: dict[str, np.ndarray], substems: dict[str, np.ndarray],
    parts: dict[str, list[dict]],
) -> dict:
    return {
        "format": FORMAT_VERSION,
        "name": request.name,
        "split": request.split,
        "source": song.source,
        "title": song.title,
        "origin": song.origin,
        "genre": song.genre,
        "tempo": song.tempo,
        "key": song.key,
        "form": song.form,
        "seed": request.seed,
        "dataset_seed": request.dataset_seed,
        "index": request.index,
        "soundfont": request.soundfont.name,
        "rate": request.rate,
        "seconds": request.seconds,
        "augmented": request.augment,
        "timbre": request.timbre,
        "programs": {stem_class: sorted({part["program"] for part in parts[stem_class]}) for stem_class in stems},
        "stems": {
            stem_class: {
                "file": f"{stem_class}.wav",
                "active_fraction": round(active_fraction(audio, request.rate), 3),
                "parts": parts[stem_class],
                **({"substems": {name: f"{name}.wav" for name in SUBSTEMS[stem_class] if name in substems}}
                   if any(name in substems for name in SUBSTEMS.get(stem_class, ())) else {}),
            }
            for stem_class, audio in stems.items()
        },
    }
