"""Songs from real multi-part scores in the music21 corpus: Bach chorales, Haydn, Mozart
and Beethoven string quartets, Palestrina, Monteverdi and Josquin polyphony.

Each voice becomes a part on a General MIDI program: sometimes the original sound
(strings for a quartet, organ or brass for a chorale), mostly a re-voicing onto a band
(top voice on a lead instrument, inner voices on guitars, pianos or keys, the bass line
on a bass guitar an octave down) so the guitar, piano and bass classes get real
counterpoint too. A work belongs to exactly one split (by a hash of its corpus path):
the held-out test set never contains a score seen in training.
"""

from __future__ import annotations

import random
import statistics
import zlib
from functools import cache, lru_cache

from stemdesk.instruments import class_of_gm_program
from stemdesk.training.synth.humanise import BeatNote, Feel, perform
from stemdesk.training.synth.song import Part, Song

#: How often each composer's works are drawn: Palestrina has 1318 corpus files, which
#: drawn uniformly would make most scores Renaissance masses.
_COMPOSER_WEIGHTS = {"bach": 35, "haydn": 10, "mozart": 10, "beethoven": 10, "palestrina": 20, "monteverdi": 10, "josquin": 5}
_READABLE = (".mxl", ".krn", ".abc", ".xml")
_QUARTET_COMPOSERS = ("haydn", "mozart", "beethoven")

#: (name, GM programs from the top voice down; the last repeats for further voices).
_ORIGINAL = {
    "quartet": (("string quartet", (40, 40, 41, 42)),),
    "vocal": (("organ", (19,)), ("brass choir", (56, 56, 57, 58)), ("strings", (48,)), ("recorders", (74, 74, 71, 70))),
}
# Band re-voicings: pools for the top voice, the inner voices and the bass line.
_TOP = (0, 4, 24, 25, 27, 29, 73, 40, 65, 56, 80)
_INNER = (0, 1, 4, 24, 25, 26, 27, 16, 48, 61, 41)
_BOTTOM = (33, 34, 32, 35, 38, 42, 0)
_BAND_CHANCE = 0.7

# Where each class's instruments sound best: (lowest, highest) median pitch.
_HOME_RANGE = {"guitar": (52, 72), "bass": (33, 50)}


def split_of_work(work: str) -> str:
    """"test" for a tenth of the works, "valid" for another tenth, else "train".

    A stable hash of the corpus path without its suffix, so the same work stored twice
    (Beethoven's op. 18 is there as .krn and .mxl) lands in one split.
    """
    bucket = zlib.crc32(work.rsplit(".", 1)[0].encode()) % 10
    return {0: "test", 1: "valid"}.get(bucket, "train")


@cache
def corpus_works(split: str) -> tuple[str, ...]:
    """Corpus paths (e.g. "bach/bwv24.6.mxl") of the multi-part works in ``split``, each
    work once (MusicXML preferred over Humdrum, ABC or plain XML copies).

    ``split`` "test" and "valid" (or "validation") have their own works; any other
    split name draws from the training works.
    """
    from music21 import corpus

    wanted = {"validation": "valid"}.get(split, split)
    wanted = wanted if wanted in ("test", "valid") else "train"
    works: dict[str, str] = {}
    for composer in _COMPOSER_WEIGHTS:
        paths = [path for path in corpus.getComposer(composer) if path.suffix in _READABLE and "_old" not in path.stem]
        for path in sorted(paths, key=lambda path: _READABLE.index(path.suffix)):
            relative = "/".join(path.parts[path.parts.index(composer) :])
            if split_of_work(relative) == wanted:
                works.setdefault(relative.rsplit(".", 1)[0], relative)
    return tuple(sorted(works.values()))


def score_song(seed: int, seconds: float, split: str = "train", work: str | None = None) -> Song:
    """A ``seconds``-long excerpt of a corpus work (chosen by ``seed`` from ``split``'s works
    unless ``work`` is given), each voice a humanised part on a chosen instrument.

    The excerpt starts at a random bar; tempo is the score's marking, or a typical one
    for the kind of work, varied by +-15 %. A work shorter than the excerpt leaves
    silence at the end.
    """
    rng = random.Random(seed)
    for _ in range(20):
        chosen = work or _draw_work(corpus_works(split), rng)
        score = _parsed(chosen)
        voices = [part for part in score.parts if part.flatten().notes]
        if len(voices) >= 2:
            break
        if work:
            raise ValueError(f"'{work}' has fewer than two voices with notes")
    else:
        raise RuntimeError("no multi-part work found in 20 draws from the corpus")
    composer = chosen.split("/")[0]
    kind = "quartet" if composer in _QUARTET_COMPOSERS else "vocal"
    tempo = _tempo(score, kind, rng) * rng.uniform(0.85, 1.15)
    window = seconds * tempo / 60
    start = _start_bar(voices[0], float(score.highestTime) - window, rng)
    ensemble, programs = _ensemble(kind, len(voices), rng)
    parts = []
    for number, (voice, program) in enumerate(zip(voices, programs)):
        written = _voice_notes(voice, start, window, rng)
        written = _into_home_range(written, class_of_gm_program(program))
        notes = perform(written, tempo, Feel(timing_ms=10.0, velocity_spread=8.0), rng, end=seconds)
        name = voice.partName or f"voice {number + 1}"
        parts.append(Part(str(name), program, notes, style=ensemble))
    key = score.analyze("key")
    return Song(
        title=f"{chosen}, from beat {start:g} ({ensemble})",
        source="music21",
        genre="string quartet" if kind == "quartet" else "choral",
        tempo=round(tempo, 1),
        key=f"{key.tonic.name.replace('-', 'b')} {key.mode}",
        parts=parts,
        seed=seed,
        form=[ensemble],
        origin=chosen,
    )


@lru_cache(maxsize=8)
def _parsed(work: str):
    """The parsed score of a corpus work (parsing takes 0.2-3 s; nothing here modifies it)."""
    from music21 import corpus

    return corpus.parse(work)


def _draw_work(works: tuple[str, ...], rng: random.Random) -> str:
    """A work: first a composer by :data:`_COMPOSER_WEIGHTS`, then one of their works."""
    by_composer: dict[str, list[str]] = {}
    for work in works:
        by_composer.setdefault(work.split("/")[0], []).append(work)
    composers = sorted(by_composer)
    composer = rng.choices(composers, weights=[_COMPOSER_WEIGHTS[name] for name in composers])[0]
    return rng.choice(by_composer[composer])


def _tempo(score, kind: str, rng: random.Random) -> float:
    from music21 import tempo

    marks = list(score.flatten().getElementsByClass(tempo.MetronomeMark))
    if marks and marks[0].getQuarterBPM():
        return float(marks[0].getQuarterBPM())
    return rng.uniform(100, 140) if kind == "quartet" else rng.uniform(64, 96)


def _start_bar(voice, latest: float, rng: random.Random) -> float:
    """Offset (quarter notes) of a random bar starting no later than ``latest``."""
    starts = [float(measure.offset) for measure in voice.getElementsByClass("Measure") if measure.offset <= max(latest, 0)]
    return rng.choice(starts) if starts else 0.0


def _ensemble(kind: str, voices: int, rng: random.Random) -> tuple[str, list[int]]:
    """A name and one GM program per voice, top voice first."""
    if rng.random() < _BAND_CHANCE:
        programs = [rng.choice(_TOP)] + [rng.choice(_INNER) for _ in range(voices - 2)] + [rng.choice(_BOTTOM)]
        return "band", programs
    name, pool = rng.choice(_ORIGINAL[kind])
    return name, [pool[min(index, len(pool) - 1)] for index in range(voices)]


def _voice_notes(voice, start: float, window: float, rng: random.Random) -> list[BeatNote]:
    """Notes of ``voice`` (ties merged, chords split) in ``[start, start + window)``, in
    beats from ``start``, with one dynamic level per phrase of four bars."""
    notes: list[BeatNote] = []
    levels: dict[int, float] = {}
    for element in voice.stripTies().flatten().notes:
        offset, length = float(element.offset), float(element.quarterLength)
        if length <= 0 or not start <= offset < start + window:
            continue
        phrase = int((offset - start) // 16)
        level = levels.setdefault(phrase, rng.uniform(64, 100))
        notes.extend(BeatNote(offset - start, length, pitch.midi, level + rng.uniform(-6, 6)) for pitch in element.pitches)
    return notes


def _into_home_range(notes: list[BeatNote], stem_class: str) -> list[BeatNote]:
    """Octave-shift a line so its median pitch suits the class's instrument (a bass guitar
    plays a cello line an octave down, as bass parts are written)."""
    if not notes or stem_class not in _HOME_RANGE:
        return notes
    low, high = _HOME_RANGE[stem_class]
    median = statistics.median(note.pitch for note in notes)
    shift = 0
    while median + shift > high:
        shift -= 12
    while median + shift < low:
        shift += 12
    return [BeatNote(n.start, n.length, min(max(n.pitch + shift, 0), 127), n.velocity) for n in notes]
