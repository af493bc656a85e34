"""Rendering with real FluidSynth and the small TimGM6mb SoundFont, and the MUSDB18-layout writer."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stemdesk.audio import decode
from stemdesk.errors import StemdeskError
from stemdesk.training.synth.arrangement import compose
from stemdesk.training.synth.command import main
from stemdesk.training.synth.dataset_writer import (
    METADATA,
    TrackRequest,
    is_complete,
    render_track,
    song_for,
)
from stemdesk.training.synth.libfluidsynth import is_available
from stemdesk.training.synth.labels import LABELS
from stemdesk.training.synth.render import fresh_synthesizer, note_events, render_part
from stemdesk.training.synth.silence import active_frames
from stemdesk.training.synth.song import Note, Part
from stemdesk.training.synth.soundfonts import find_soundfont, installed_soundfonts

RATE = 44100


@pytest.fixture(scope="module")
def timgm6mb() -> Path:
    if not is_available():
        pytest.skip("libfluidsynth is not installed (Debian package libfluidsynth3)")
    try:
        return find_soundfont("TimGM6mb")
    except StemdeskError:
        pytest.skip("the TimGM6mb SoundFont is not installed (Debian package timgm6mb-soundfont)")


@pytest.fixture(scope="module")
def synth(timgm6mb):
    with fresh_synthesizer(str(timgm6mb), RATE) as fluid:
        yield fluid


def test_a_part_sounds_only_from_its_first_note(synth):
    part = Part("guitar", 27, [Note(0.5, 0.4, 52, 100), Note(1.0, 0.4, 59, 90)])
    audio, program = render_part(synth, part, RATE * 2)
    assert audio.shape == (2, RATE * 2) and audio.dtype == np.float32
    assert program == 27
    assert not np.any(audio[:, : int(0.5 * RATE) - 64]), "silence before the first note"
    assert np.abs(audio[:, int(0.55 * RATE) : int(0.9 * RATE)]).max() > 0.01


def test_the_next_part_starts_from_silence(synth):
    loud = Part("pad", 89, [Note(0.0, 1.0, 60, 127), Note(0.0, 1.0, 64, 127)])
    render_part(synth, loud, RATE)
    quiet = Part("bass", 33, [Note(0.5, 0.2, 40, 100)])
    audio, _ = render_part(synth, quiet, RATE)
    assert not np.any(audio[:, : int(0.5 * RATE) - 64]), "nothing of the pad leaks into the bass"


def test_drum_kits_render_on_the_drum_channel_and_missing_kits_fall_back(synth):
    kick = Part("drums", 0, [Note(0.1, 0.2, 36, 110)], is_drum=True)
    audio, kit = render_part(synth, kick, RATE // 2)
    assert kit == 0 and np.abs(audio).max() > 0.01
    odd_kit = Part("drums", 99, [Note(0.1, 0.2, 38, 110)], is_drum=True)
    audio, kit = render_part(synth, odd_kit, RATE // 2)
    assert kit == 0 and np.abs(audio).max() > 0.01


def test_note_events_shorten_overlaps_of_one_pitch_and_put_offs_first():
    notes = [Note(0.0, 1.0, 60, 90), Note(0.5, 1.0, 60, 80), Note(0.5, 0.2, 64, 70), Note(0.5, 0.1, 64, 100)]
    events = note_events(notes, 100, 1000)
    assert events == [
        (0, True, 60, 90),
        (50, False, 60, 0),
        (50, True, 60, 80),
        (50, True, 64, 100),
        (60, False, 64, 0),
        (150, False, 60, 0),
    ]


@pytest.fixture(scope="module")
def written_track(timgm6mb, tmp_path_factory):
    request = TrackRequest(tmp_path_factory.mktemp("synth"), "train", 0, 5, 3.5, timgm6mb, genre="rock")
    return request, render_track(request)


def test_a_rendered_song_is_written_in_the_musdb_layout(written_track):
    request, result = written_track
    folder = request.folder
    assert folder == request.root / "train" / "s5-00000"
    song = compose(request.seed, request.seconds, "rock")
    expected = {part.stem_class for part in song.parts if part.notes}
    assert set(result.classes) == expected
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f"{c}.wav" for c in expected), "mixture.wav", METADATA, LABELS])
    stems = {c: decode(folder / f"{c}.wav") for c in expected}
    mixture = decode(folder / "mixture.wav")
    assert mixture.rate == RATE and mixture.channels == 2
    assert mixture.num_samples == round(3.5 * RATE)
    assert np.array_equal(mixture.samples, np.sum([s.samples for s in stems.values()], axis=0, dtype=np.float32))
    assert 0.1 < np.abs(mixture.samples).max() < 1.0


def test_each_stem_sounds_where_its_parts_play(written_track):
    request, _ = written_track
    song = compose(request.seed, request.seconds, "rock")
    for stem_class in {part.stem_class for part in song.parts if part.notes}:
        audio = decode(request.folder / f"{stem_class}.wav").samples
        frames = active_frames(audio, RATE, 0.05)
        onsets = sorted(n.time for p in song.parts if p.stem_class == stem_class for n in p.notes)
        # Each note onset lands in a sounding frame (allowing one frame of attack).
        sounding = [frames[int(t / 0.05)] or frames[min(int(t / 0.05) + 1, len(frames) - 1)] for t in onsets]
        assert np.mean(sounding) > 0.95, stem_class


def test_metadata_says_what_was_rendered(written_track, timgm6mb):
    request, _ = written_track
    metadata = json.loads((request.folder / METADATA).read_text())
    song = compose(request.seed, request.seconds, "rock")
    assert metadata["genre"] == "rock" and metadata["source"] == "procedural"
    assert metadata["tempo"] == song.tempo and metadata["key"] == song.key
    assert metadata["soundfont"] == timgm6mb.name == "TimGM6mb.sf2"
    assert metadata["seed"] == request.seed and metadata["dataset_seed"] == 5
    expected_programs = {}
    for part in song.parts:
        if part.notes:
            expected_programs.setdefault(part.stem_class, set()).add(part.program)
    assert {c: set(p) for c, p in metadata["programs"].items()} == expected_programs
    for stem_class, stem in metadata["stems"].items():
        assert stem["file"] == f"{stem_class}.wav" and 0 < stem["active_fraction"] <= 1


def test_rendering_is_reproducible_and_resumable(written_track, tmp_path):
    request, _ = written_track
    assert render_track(request).skipped
    again = TrackRequest(tmp_path, request.split, request.index, request.dataset_seed, request.seconds,
                         request.soundfont, genre="rock")
    render_track(again)
    for name in ("mixture.wav", "drums.wav"):
        assert (again.folder / name).read_bytes() == (request.folder / name).read_bytes()
    (again.folder / METADATA).unlink()
    assert not is_complete(again.folder)
    assert not render_track(again).skipped and is_complete(again.folder)


def test_dry_rendering_without_augmentation(timgm6mb, tmp_path):
    request = TrackRequest(tmp_path, "test", 1, 5, 2.0, timgm6mb, genre="funk", augment=False)
    render_track(request)
    metadata = json.loads((request.folder / METADATA).read_text())
    assert metadata["augmented"] is False
    assert all(not part["effects"] and part["gain_db"] == 0 for stem in metadata["stems"].values() for part in stem["parts"])
    assert song_for(request).genre == "funk"


def test_the_command_renders_then_skips_and_lists_soundfonts(timgm6mb, tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--tracks", "2", "--seconds", "1.5", "--soundfont", "TimGM6mb",
            "--split", "valid", "--seed", "9", "--jobs", "2"]
    assert main(argv) == 0
    assert all(is_complete(tmp_path / "valid" / f"s9-0000{i}") for i in (0, 1))
    assert "2 rendered" in capsys.readouterr().out
    assert main(argv) == 0
    assert "2 skipped" in capsys.readouterr().out
    assert main(["--list-soundfonts"]) == 0
    assert str(timgm6mb) in capsys.readouterr().out.splitlines()
    assert main(["--out", str(tmp_path), "--soundfont", "NoSuchFont"]) == 2
    assert "no SoundFont 'NoSuchFont'" in capsys.readouterr().err


def test_installed_soundfonts_are_listed_once_each(timgm6mb):
    fonts = installed_soundfonts()
    assert timgm6mb in fonts
    assert len(fonts) == len(set(fonts))
    assert all(path.suffix in (".sf2", ".sf3") and not path.is_symlink() for path in fonts)


def test_track_seeds_differ_between_splits_with_one_data_set_seed(timgm6mb):
    def seed(split, index):
        return TrackRequest(Path("data"), split, index, 1, 10.0, timgm6mb).seed

    assert seed("train", 0) == seed("train", 0)
    assert len({seed("train", 0), seed("test", 0), seed("train", 1), seed("valid", 0)}) == 4


def test_the_data_engine_needs_no_torch():
    code = (
        "import sys\n"
        "import stemdesk.training.synth.command, stemdesk.training.synth.scores\n"
        "import stemdesk.training.synth.submixes, stemdesk.training.synth.silence\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr


def test_a_lead_guitar_gets_its_own_stem_beside_the_rhythm_guitar(timgm6mb, tmp_path):
    # Latin song 1 of data set seed 5: a requinto (the lead) over a segunda guitar (rhythm).
    request = TrackRequest(tmp_path, "train", 1, 5, 3.5, timgm6mb, genre="latin")
    song = song_for(request)
    assert {part.stem for part in song.parts if part.stem_class == "guitar"} == {"guitar-lead", "guitar-rhythm"}
    render_track(request)
    folder = request.folder
    lead, rhythm, guitar = (decode(folder / f"{name}.wav").samples for name in ("guitar-lead", "guitar-rhythm", "guitar"))
    # The guitar stem is exactly the sum of its two parts' stems; the mixture still the sum of the classes.
    assert np.array_equal(guitar, lead + rhythm)
    classes = [decode(folder / f"{c}.wav").samples for c in json.loads((folder / METADATA).read_text())["stems"]]
    assert np.array_equal(decode(folder / "mixture.wav").samples, np.sum(classes, axis=0, dtype=np.float32))
    # Each holds its own part: the lead's stem sounds where the requinto plays, silent before its first note.
    requinto = next(part for part in song.parts if part.stem == "guitar-lead")
    first = min(note.time for note in requinto.notes)
    assert first > 0.1 and not np.any(lead[:, : int(first * RATE) - 64])
    assert np.abs(rhythm[:, : int(first * RATE) - 64]).max() > 0.01
    metadata = json.loads((folder / METADATA).read_text())
    assert metadata["stems"]["guitar"]["substems"] == {"guitar-lead": "guitar-lead.wav", "guitar-rhythm": "guitar-rhythm.wav"}
    assert {part["stem"] for part in metadata["stems"]["guitar"]["parts"]} == {"guitar-lead", "guitar-rhythm"}
    (folder / "guitar-lead.wav").unlink()
    assert not is_complete(folder)


def test_a_song_without_a_lead_guitar_has_no_guitar_substems(written_track):
    request, _ = written_track
    assert not any(part.stem == "guitar-lead" and part.notes for part in compose(request.seed, request.seconds, "rock").parts)
    assert not list(request.folder.glob("guitar-*.wav"))
    assert "substems" not in json.loads((request.folder / METADATA).read_text())["stems"]["guitar"]


def test_tracks_take_several_soundfonts_in_turn_and_record_the_timbre(timgm6mb, tmp_path):
    try:
        second = find_soundfont("sf_GMbank")
    except StemdeskError:
        pytest.skip("a second SoundFont is needed (Debian package csound-soundfont)")
    argv = ["--out", str(tmp_path), "--tracks", "3", "--seconds", "1.5", "--soundfont", "TimGM6mb",
            "--soundfont", str(second), "--seed", "2", "--jobs", "1", "--timbre", "varied"]
    assert main(argv) == 0
    metadata = [json.loads((tmp_path / "train" / f"s2-0000{i}" / METADATA).read_text()) for i in range(3)]
    assert [m["soundfont"] for m in metadata] == ["TimGM6mb.sf2", "sf_GMbank.sf2", "TimGM6mb.sf2"]
    assert all(m["timbre"] == "varied" for m in metadata)
