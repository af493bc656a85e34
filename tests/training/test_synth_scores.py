"""music21 corpus scores: a chorale becomes parts of notes on GM programs and renders."""

from pathlib import Path

import numpy as np
import pytest

from stemdesk.errors import StemdeskError
from stemdesk.training.synth.dataset_writer import TrackRequest, render_stems
from stemdesk.training.synth.libfluidsynth import is_available
from stemdesk.training.synth.scores import corpus_works, score_song, split_of_work
from stemdesk.training.synth.silence import active_fraction
from stemdesk.training.synth.soundfonts import find_soundfont

CHORALE = "bach/bwv24.6.mxl"
SECONDS = 4.0


@pytest.fixture(scope="module")
def chorale():
    return score_song(11, SECONDS, work=CHORALE)


def test_a_chorale_becomes_four_humanised_parts(chorale):
    assert chorale.source == "music21" and chorale.origin == CHORALE
    assert [part.name for part in chorale.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert chorale.key == "F major"
    for part in chorale.parts:
        assert part.notes, part.name
        assert all(0 <= note.time < SECONDS for note in part.notes)
        assert 0 <= part.program <= 127 and not part.is_drum
    soprano, bass = chorale.parts[0], chorale.parts[-1]
    assert np.median([n.pitch for n in soprano.notes]) > np.median([n.pitch for n in bass.notes])
    # Four to eight quarter-note-ish beats a second: a chorale, not a flurry of notes.
    assert len(soprano.notes) <= SECONDS * 4


def test_the_same_seed_gives_the_same_excerpt_and_instruments(chorale):
    again = score_song(11, SECONDS, work=CHORALE)
    assert [(p.program, p.notes) for p in again.parts] == [(p.program, p.notes) for p in chorale.parts]


def test_voices_moved_to_bass_and_guitar_sit_in_their_registers():
    seen = set()
    for seed in range(10):
        song = score_song(seed, SECONDS, work=CHORALE)
        for part in song.parts:
            median = np.median([n.pitch for n in part.notes])
            if part.stem_class == "bass":
                assert 33 <= median <= 50
            if part.stem_class == "guitar":
                assert 52 <= median <= 72
            seen.add(part.stem_class)
    assert {"bass", "guitar"} <= seen, "band re-voicings give the bass and guitar classes data"


def test_train_and_test_scores_never_overlap():
    train, test = set(corpus_works("train")), set(corpus_works("test"))
    assert len(train) > 1000 and len(test) > 50
    assert not train & test
    assert all(split_of_work(work) == "test" for work in test)
    assert split_of_work("beethoven/opus18no1/movement1.krn") == split_of_work("beethoven/opus18no1/movement1.mxl")
    stems = [work.rsplit(".", 1)[0] for work in train]
    assert len(stems) == len(set(stems)), "each work once, whatever formats the corpus holds it in"


def test_a_chorale_renders_to_non_silent_stems():
    if not is_available():
        pytest.skip("libfluidsynth is not installed (Debian package libfluidsynth3)")
    try:
        soundfont = find_soundfont("TimGM6mb")
    except StemdeskError:
        pytest.skip("the TimGM6mb SoundFont is not installed (Debian package timgm6mb-soundfont)")
    request = TrackRequest(Path("unused"), "train", 0, 0, SECONDS, soundfont, source="music21")
    song = score_song(3, SECONDS, work=CHORALE)
    stems, parts = render_stems(song, request)
    assert set(stems) == {part.stem_class for part in song.parts}
    for stem_class, audio in stems.items():
        assert audio.shape == (2, round(SECONDS * 44100))
        assert active_fraction(audio, 44100) > 0.5, stem_class
    assert sum(len(described) for described in parts.values()) == 4
