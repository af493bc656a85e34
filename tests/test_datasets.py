"""Each dataset loader on a tiny tree this test writes: real layouts, real metadata schemas.

Every stem is a 0.5 s tone of its own frequency, so a loaded stem can be told
apart by its strongest frequency and the sums can be checked exactly.
"""

import json
from pathlib import Path

import av
import numpy as np
import pytest

from stemdesk.audio import Audio, write_audio
from stemdesk.datasets import load_dataset, mixture_audio, stems_audio
from stemdesk.errors import StemdeskError

RATE = 44_100


def tone(frequency: float, rate: int = RATE, channels: int = 2, seconds: float = 0.5) -> np.ndarray:
    """A ``(channels, samples)`` float32 sine whose amplitude differs per channel."""
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.1 * np.sin(2 * np.pi * frequency * t)
    return np.stack([wave * (1.0 - 0.2 * c) for c in range(channels)]).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # FLOAT keeps samples exact, so sums can be compared tightly.
    write_audio(path, Audio(samples, rate), subtype="FLOAT" if path.suffix == ".wav" else "PCM_24")


def peak_frequency(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples[0] * np.hanning(audio.num_samples)))
    return float(np.argmax(spectrum) * audio.rate / audio.num_samples)


# --- MUSDB18-HQ ------------------------------------------------------------------------

MUSDB_TONES = {"vocals": 440.0, "drums": 150.0, "bass": 55.0, "other": 660.0}


def write_musdb_hq(root: Path) -> None:
    for split, song in (("train", "Artist A - Song One"), ("test", "Artist B - Song Two")):
        folder = root / split / song
        stems = {name: tone(frequency) for name, frequency in MUSDB_TONES.items()}
        for name, samples in stems.items():
            write_wav(folder / f"{name}.wav", samples)
        write_wav(folder / "mixture.wav", sum(stems.values()))
        # Some tools add this; the song is still MUSDB18-HQ and it is no class of its own.
        write_wav(folder / "accompaniment.wav", sum(stems.values()) - stems["vocals"])


def test_musdb_hq_maps_stems_and_marks_guitar_and_piano_not_separated(tmp_path):
    write_musdb_hq(tmp_path)
    tracks = load_dataset(tmp_path)
    assert [(t.name, t.metadata["split"]) for t in tracks] == [
        ("Artist B - Song Two", "test"), ("Artist A - Song One", "train")]
    track = tracks[0]
    assert track.metadata["format"] == "musdb18hq"
    assert set(track.stems) == {"vocals", "drums", "bass", "other"}
    assert set(track.not_separated) == {"guitar", "piano"}
    stems = stems_audio(track)
    for name, frequency in MUSDB_TONES.items():
        assert stems[name].samples.shape == (2, RATE // 2)
        assert peak_frequency(stems[name]) == pytest.approx(frequency, abs=3)
    mixture = mixture_audio(track)
    np.testing.assert_allclose(mixture.samples, sum(s.samples for s in stems.values()), atol=1e-6)
    assert [t.name for t in load_dataset(tmp_path, split="train")] == ["Artist A - Song One"]
    assert [t.name for t in load_dataset(tmp_path / "test")] == ["Artist B - Song Two"]


# --- MUSDB18 (.stem.mp4) ------------------------------------------------------------------

MP4_ORDER = ("mixture", "drums", "bass", "other", "vocals")


def write_stem_mp4(path: Path) -> None:
    """Five AAC streams in MUSDB18's order; the "mixture" stream is a tone of its own."""
    frequencies = {"mixture": 880.0, **MUSDB_TONES}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        streams = [container.add_stream("aac", rate=RATE, layout="stereo") for _ in MP4_ORDER]
        for stream, name in zip(streams, MP4_ORDER):
            frame = av.AudioFrame.from_ndarray(tone(frequencies[name]), format="fltp", layout="stereo")
            frame.rate = RATE
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)


def test_musdb_stem_mp4_decodes_each_stream_as_its_class(tmp_path):
    for song in ("Song One", "Song Two"):
        write_stem_mp4(tmp_path / "test" / f"{song}.stem.mp4")
    tracks = load_dataset(tmp_path)
    assert [t.name for t in tracks] == ["Song One", "Song Two"]
    track = tracks[1]
    assert track.metadata == {"format": "musdb18", "split": "test", "not_separated": ("guitar", "piano")}
    stems = stems_audio(track)
    assert set(stems) == {"vocals", "drums", "bass", "other"}
    for name, frequency in MUSDB_TONES.items():
        assert peak_frequency(stems[name]) == pytest.approx(frequency, abs=3)
    mixture = mixture_audio(track)
    assert peak_frequency(mixture) == pytest.approx(880.0, abs=3)
    # Same encoder for every stream: same delay and length, so they stay aligned.
    assert {stem.samples.shape for stem in stems.values()} == {mixture.samples.shape}


# --- MedleyDB -----------------------------------------------------------------------------

MEDLEYDB_METADATA = """album: Tiny Album
artist: Tiny Band
composer:
- Tiny Band
excerpt: 'no'
genre: Rock
has_bleed: '{bleed}'
instrumental: 'no'
mix_filename: {song}_MIX.wav
origin: stemdesk tests
producer:
- pytest
raw_dir: {song}_RAW
stem_dir: {song}_STEMS
stems:
  S01:
    component: melody
    filename: {song}_STEM_01.wav
    instrument: male singer
    raw:
      R01:
        filename: {song}_RAW_01_01.wav
        instrument: male singer
  S02:
    component: bass
    filename: {song}_STEM_02.wav
    instrument: electric bass
    raw:
      R01:
        filename: {song}_RAW_02_01.wav
        instrument: electric bass
  S03:
    component: ''
    filename: {song}_STEM_03.wav
    instrument: distorted electric guitar
    raw:
      R01:
        filename: {song}_RAW_03_01.wav
        instrument: distorted electric guitar
  S04:
    component: ''
    filename: {song}_STEM_04.wav
    instrument: clean electric guitar
    raw:
      R01:
        filename: {song}_RAW_04_01.wav
        instrument: clean electric guitar
  S05:
    component: ''
    filename: {song}_STEM_05.wav
    instrument: drum set
    raw:
      R01:
        filename: {song}_RAW_05_01.wav
        instrument: kick drum
  S06:
    component: ''
    filename: {song}_STEM_06.wav
    instrument: theremin
    raw:
      R01:
        filename: {song}_RAW_06_01.wav
        instrument: theremin
title: Tiny Song
version: 1.2
website:
- example.org
"""
MEDLEYDB_TONES = {"01": 440.0, "02": 55.0, "03": 220.0, "04": 330.0, "05": 150.0, "06": 990.0}


def write_medleydb(root: Path) -> None:
    """Two songs: one with its mix at 44.1 kHz; one without a mix, with mono 48 kHz stems."""
    for song, rate, channels, with_mix in (("TinyBand_One", RATE, 2, True), ("TinyBand_Two", 48_000, 1, False)):
        folder = root / "Audio" / song
        stems = {number: tone(f, rate, channels) for number, f in MEDLEYDB_TONES.items()}
        for number, samples in stems.items():
            write_wav(folder / f"{song}_STEMS" / f"{song}_STEM_{number}.wav", samples, rate)
        if with_mix:
            write_wav(folder / f"{song}_MIX.wav", sum(stems.values()), rate)
        bleed = "yes" if with_mix else "no"
        (folder / f"{song}_METADATA.yaml").write_text(MEDLEYDB_METADATA.format(song=song, bleed=bleed))


def test_medleydb_maps_instrument_names_to_classes_and_sums_each_class(tmp_path):
    write_medleydb(tmp_path)
    one, two = load_dataset(tmp_path)
    assert (one.name, one.metadata["format"], one.metadata["split"]) == ("TinyBand_One", "medleydb", "Audio")
    assert set(one.stems) == {"vocals", "bass", "guitar", "drums", "other"}
    assert len(one.stems["guitar"]) == 2
    assert one.metadata["instruments"]["guitar"] == ["distorted electric guitar", "clean electric guitar"]
    assert one.metadata["instruments"]["other"] == ["theremin"]
    assert one.metadata["has_bleed"] and not two.metadata["has_bleed"]
    assert one.not_separated == ()

    stems = stems_audio(one)
    guitars = tone(MEDLEYDB_TONES["03"]) + tone(MEDLEYDB_TONES["04"])
    np.testing.assert_allclose(stems["guitar"].samples, guitars, atol=1e-6)
    assert peak_frequency(stems["vocals"]) == pytest.approx(440.0, abs=3)
    np.testing.assert_allclose(mixture_audio(one).samples, sum(s.samples for s in stems.values()), atol=1e-6)

    # Song two: mono stems at 48 kHz come back as 44.1 kHz and, having no mix, sum to one.
    stems_two = stems_audio(two)
    assert stems_two["bass"].rate == RATE and stems_two["bass"].samples.shape == (1, RATE // 2)
    assert two.mixture is None
    np.testing.assert_allclose(mixture_audio(two).samples, sum(s.samples for s in stems_two.values()), atol=1e-6)


def test_medleydb_names_a_missing_stem_file(tmp_path):
    write_medleydb(tmp_path)
    missing = tmp_path / "Audio" / "TinyBand_One" / "TinyBand_One_STEMS" / "TinyBand_One_STEM_03.wav"
    missing.unlink()
    with pytest.raises(StemdeskError, match="S03.*TinyBand_One_STEM_03.wav"):
        load_dataset(tmp_path)


# --- Slakh2100 ----------------------------------------------------------------------------

SLAKH_METADATA = """UUID: {uuid}
audio_dir: stems
lmd_midi_dir: lmd_matched/O/O/H/TROOHTB128F931F9DF/{uuid}.mid
midi_dir: MIDI
normalization_factor: -13.0
normalized: true
overall_gain: 0.18270259567062658
stems:
  S00:
    audio_rendered: true
    inst_class: Guitar
    integrated_loudness: -12.82074180245363
    is_drum: false
    midi_program_name: Distortion Guitar
    midi_saved: true
    plugin_name: elektrik_guitar.nkm
    program_num: 30
  S01:
    audio_rendered: true
    inst_class: Bass
    integrated_loudness: -13.5
    is_drum: false
    midi_program_name: Electric Bass (finger)
    midi_saved: true
    plugin_name: scarbee_jay_bass_both.nkm
    program_num: 33
  S02:
    audio_rendered: true
    inst_class: Drums
    integrated_loudness: -11.2
    is_drum: true
    midi_program_name: Drums
    midi_saved: true
    plugin_name: session_kit_full.nkm
    program_num: 128
  S03:
    audio_rendered: false
    inst_class: Sound Effects
    integrated_loudness: null
    is_drum: false
    midi_program_name: Gunshot
    midi_saved: true
    plugin_name: None
    program_num: 127
  S04:
    audio_rendered: true
    inst_class: Piano
    integrated_loudness: -14.1
    is_drum: false
    midi_program_name: Acoustic Grand Piano
    midi_saved: true
    plugin_name: grandeur.nkm
    program_num: 0
  S05:
    audio_rendered: true
    inst_class: Guitar
    integrated_loudness: -15.0
    is_drum: false
    midi_program_name: Acoustic Guitar (steel)
    midi_saved: true
    plugin_name: acoustic_guitar.nkm
    program_num: 25
target_peak: -1.0
"""
SLAKH_TONES = {"S00": 220.0, "S01": 55.0, "S02": 150.0, "S04": 523.0, "S05": 330.0}


def write_slakh(root: Path) -> None:
    for split, song, uuid in (("train", "Track00001", "1a81ae09"), ("test", "Track01876", "5b02cf1e")):
        folder = root / split / song
        stems = {stem: tone(frequency) for stem, frequency in SLAKH_TONES.items()}
        for stem, samples in stems.items():
            write_wav(folder / "stems" / f"{stem}.flac", samples)
        write_wav(folder / "mix.flac", sum(stems.values()))
        (folder / "metadata.yaml").write_text(SLAKH_METADATA.format(uuid=uuid))


def test_slakh_maps_programs_to_classes_and_skips_unrendered_stems(tmp_path):
    write_slakh(tmp_path)
    tracks = load_dataset(tmp_path)
    assert [(t.name, t.metadata["split"]) for t in tracks] == [("Track01876", "test"), ("Track00001", "train")]
    track = tracks[1]
    assert (track.metadata["format"], track.metadata["uuid"]) == ("slakh2100", "1a81ae09")
    assert {name: [p.name for p in paths] for name, paths in track.stems.items()} == {
        "guitar": ["S00.flac", "S05.flac"], "bass": ["S01.flac"], "drums": ["S02.flac"], "piano": ["S04.flac"]}
    assert track.metadata["instruments"]["guitar"] == ["Distortion Guitar", "Acoustic Guitar (steel)"]
    stems = stems_audio(track)
    # 24-bit FLAC: exact to about 1e-7.
    np.testing.assert_allclose(stems["guitar"].samples, tone(220.0) + tone(330.0), atol=1e-5)
    np.testing.assert_allclose(mixture_audio(track).samples, sum(s.samples for s in stems.values()), atol=1e-5)


# --- stemdesk's own rendered layout -------------------------------------------------------

def write_rendered(root: Path) -> None:
    songs = {"song_000": {"guitar": 330.0, "bass": 55.0}, "song_001": {"vocals": 440.0, "drums": 150.0,
                                                                       "bass": 55.0, "other": 660.0}}
    for song, classes in songs.items():
        folder = root / "test" / song
        stems = {name: tone(frequency) for name, frequency in classes.items()}
        for name, samples in stems.items():
            write_wav(folder / f"{name}.wav", samples)
        write_wav(folder / "mixture.wav", sum(stems.values()))
        metadata = {"format": 1, "name": song, "split": "test", "genre": "rock", "tempo": 120,
                    "stems": {name: {"file": f"{name}.wav"} for name in classes}}
        (folder / "metadata.json").write_text(json.dumps(metadata))
    # A render that was interrupted before its metadata: no song yet.
    write_wav(root / "test" / "song_002" / "mixture.wav", tone(100.0))


def test_rendered_layout_has_any_classes_all_separated(tmp_path):
    write_rendered(tmp_path)
    first, second = load_dataset(tmp_path)
    assert (first.name, second.name) == ("song_000", "song_001")
    assert first.metadata["format"] == second.metadata["format"] == "stemdesk"
    assert set(first.stems) == {"guitar", "bass"}
    assert first.not_separated == ()
    assert first.metadata["rendered"]["genre"] == "rock"
    # MUSDB-HQ's four names, but metadata.json says it is ours: its "other" hides no guitar.
    assert set(second.stems) == {"vocals", "drums", "bass", "other"} and second.not_separated == ()
    stems = stems_audio(first)
    assert peak_frequency(stems["guitar"]) == pytest.approx(330.0, abs=3)
    np.testing.assert_allclose(mixture_audio(first).samples, stems["guitar"].samples + stems["bass"].samples,
                               atol=1e-6)


# --- detection ----------------------------------------------------------------------------

def test_one_root_may_hold_several_layouts(tmp_path):
    write_musdb_hq(tmp_path / "musdb")
    write_slakh(tmp_path / "slakh")
    formats = {track.metadata["format"] for track in load_dataset(tmp_path)}
    assert formats == {"musdb18hq", "slakh2100"}


def test_folders_without_songs_give_one_line_errors(tmp_path):
    with pytest.raises(StemdeskError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(StemdeskError, match="no multitrack songs found"):
        load_dataset(tmp_path / "empty")
    write_musdb_hq(tmp_path / "musdb")
    with pytest.raises(StemdeskError, match="split 'validation'"):
        load_dataset(tmp_path / "musdb", split="validation")
