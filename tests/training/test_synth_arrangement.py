"""Procedural arrangements: reproducible, in genre, humanised, played like the instruments."""

import random

import pytest

from stemdesk.training.synth.arrangement import compose
from stemdesk.training.synth.drums import HIGH_BONGO, LONG_GUIRO, LOW_BONGO, SHORT_GUIRO
from stemdesk.training.synth.form import Chart, build_chart
from stemdesk.training.synth.genres import GENRE_NAMES, GENRES
from stemdesk.training.synth.guitars import (
    STANDARD_TUNING,
    fretboard_voicing,
    guitar_part,
)
from stemdesk.training.synth.theory import Chord, Key, chord_of_numeral, voice_lead

SECONDS = 12.0


def notes_of(song):
    return [(part.name, part.program, [(n.time, n.duration, n.pitch, n.velocity) for n in part.notes]) for part in song.parts]


def test_same_seed_gives_the_same_song_and_another_seed_another():
    first, again, other = compose(42, SECONDS), compose(42, SECONDS), compose(43, SECONDS)
    assert notes_of(first) == notes_of(again)
    assert (first.genre, first.tempo, first.key) == (again.genre, again.tempo, again.key)
    assert notes_of(first) != notes_of(other)


@pytest.mark.parametrize("genre", GENRE_NAMES)
def test_each_genre_has_a_band_of_the_right_classes_within_its_tempo(genre):
    song = compose(7, SECONDS, genre)
    style = GENRES[genre]
    assert song.genre == genre and style.tempo[0] <= song.tempo <= style.tempo[1]
    classes = {part.stem_class for part in song.parts if part.notes}
    assert "bass" in classes
    assert classes & {"guitar", "piano"}
    for part in song.parts:
        assert all(0 <= note.time < SECONDS for note in part.notes)
        plan = next(plan for plan in style.band if plan.name == part.name)
        allowed = style.kits if plan.role == "drums" else plan.programs
        assert part.program in allowed
    bass = next(part for part in song.parts if part.stem_class == "bass")
    assert 32 <= bass.program <= 39
    assert max(note.pitch for note in bass.notes) <= 60


def test_drums_are_humanised_around_the_beat_grid():
    song = compose(3, SECONDS, "rock")
    drums = next(part for part in song.parts if part.is_drum)
    sixteenth = 60 / song.tempo / 4
    deviations = [abs(note.time / sixteenth - round(note.time / sixteenth)) * sixteenth for note in drums.notes]
    assert max(deviations) < 0.03, "onsets should stay within a few ms of the grid"
    assert sum(d > 0.0005 for d in deviations) > len(deviations) / 2, "most onsets should be off the exact grid"
    assert len({note.velocity for note in drums.notes}) > 10


def test_latin_bachata_has_bongo_guira_and_requinto_runs():
    songs = [compose(seed, SECONDS, "latin") for seed in range(12)]
    bachata = [song for song in songs if "bachata" in song.origin]
    assert bachata, "some latin seeds should pick the bachata groove"
    drum_keys = {note.pitch for song in bachata for part in song.parts if part.is_drum for note in part.notes}
    assert {HIGH_BONGO, LOW_BONGO} <= drum_keys and drum_keys & {LONG_GUIRO, SHORT_GUIRO}
    requinto = [part for song in songs for part in song.parts if part.style == "requinto"]
    assert requinto
    for part in requinto:
        assert part.stem_class == "guitar"
        assert min(note.pitch for note in part.notes) >= 62
        gaps = [b.time - a.time for a, b in zip(part.notes, part.notes[1:])]
        assert sum(gap < 0.18 for gap in gaps) > len(gaps) / 3, "requinto runs are fast sixteenths"


def make_chart(tempo=120.0, seconds=8.0, energy_sections=(("verse", 1), ("chorus", 2))):
    return build_chart(random.Random(0), Key(4, "minor"), tempo, seconds,
                       {"default": ("i", "bVI", "bIII", "bVII")}, 1.0, sections=energy_sections + energy_sections)


def test_palm_muted_guitar_plays_short_low_notes_in_the_verse():
    chart = make_chart(energy_sections=(("verse", 1), ("verse", 1)))
    notes = guitar_part(chart, "palm muted", random.Random(1))
    assert notes
    assert all(note.length <= 0.25 for note in notes)
    assert all(note.pitch < 60 for note in notes)


def test_power_chords_are_root_fifth_octave_and_strums_spread_across_strings():
    chart = make_chart()
    power = guitar_part(chart, "power chords", random.Random(2))
    first_hit = sorted(note.pitch for note in power if note.start == power[0].start)
    assert [p - first_hit[0] for p in first_hit] in ([0, 7], [0, 7, 12])
    strum = guitar_part(chart, "strummed", random.Random(2))
    first_strum = [note for note in strum if note.start < strum[0].start + 0.2]
    assert len(first_strum) >= 4
    assert len({note.start for note in first_strum}) == len(first_strum), "strings are struck one after another"


def test_chords_from_roman_numerals_and_fretboard_voicings():
    a_minor = Key(9, "minor")
    assert chord_of_numeral("bVII", a_minor) == Chord(7, "maj")
    assert chord_of_numeral("iv7", a_minor) == Chord(2, "min7")
    assert chord_of_numeral("V7", a_minor).pitch_classes == (4, 8, 11, 2)
    with pytest.raises(ValueError):
        chord_of_numeral("H", a_minor)
    e_major = Chord(4, "maj")
    for position in (0, 5, 7):
        voicing = fretboard_voicing(e_major, position)
        assert voicing[0] % 12 == 4, "the lowest string plays the root"
        assert all(pitch % 12 in e_major.pitch_classes for pitch in voicing)
        assert voicing == sorted(set(voicing)) and len(voicing) <= len(STANDARD_TUNING)


def test_voice_leading_moves_little_between_chords():
    c_major, a_minor = Chord(0, "maj"), Chord(9, "min")
    first = voice_lead(None, c_major, 64)
    second = voice_lead(first, a_minor, 64)
    assert sum(abs(a - b) for a, b in zip(first, second)) <= 3


def test_chart_covers_the_requested_time():
    chart: Chart = make_chart(tempo=100.0, seconds=10.0)
    assert chart.beats * 60 / 100.0 >= 10.0
    assert chart.bars[0].is_first_of_section
