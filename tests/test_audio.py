"""stemdesk.audio: decoding, resampling and atomic WAV/FLAC writing on real files."""

import errno
import logging
import os
import struct

import av
import numpy as np
import pytest
import soundfile

from stemdesk import PROJECT_ROOT
from stemdesk.audio import (
    MAX_RATE,
    MIN_RATE,
    SUPPORTED_SUFFIXES,
    Audio,
    atomic_path,
    decode,
    resample,
    write_audio,
)
from stemdesk.errors import StemdeskError

DEMO_SONG = PROJECT_ROOT / "resources" / "demo" / "audio_example.mp3"


def sine(frequency: float, rate: int, seconds: float, channels: int = 2) -> np.ndarray:
    """float32 (channels, samples): the same sine on every channel, quieter on each further one."""
    t = np.arange(round(rate * seconds)) / rate
    tone = np.sin(2 * np.pi * frequency * t)
    return np.stack([tone * 0.5 / (c + 1) for c in range(channels)]).astype(np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """Frequency in Hz of the strongest spectral peak of channel 0."""
    channel = samples[0] * np.hanning(samples.shape[1])
    spectrum = np.abs(np.fft.rfft(channel))
    return float(np.argmax(spectrum) * rate / samples.shape[1])


def assert_one_line_naming(error: pytest.ExceptionInfo, path) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message


def encode_with_pyav(path, codec: str, samples: np.ndarray, rate: int, container_format: str | None = None):
    """Write stereo float32 (2, samples) with an FFmpeg encoder (PyAV converts the sample format)."""
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# --- Audio -----------------------------------------------------------------


def test_audio_properties_and_float32_c_contiguous_conversion():
    wide = np.zeros((3, 8000), dtype=np.float64)[:, ::2]
    audio = Audio(wide, 8000)
    assert audio.samples.dtype == np.float32
    assert audio.samples.flags["C_CONTIGUOUS"]
    assert (audio.channels, audio.num_samples, audio.duration) == (3, 4000, 0.5)


def test_audio_rejects_wrong_shape_integer_samples_and_bad_rate():
    with pytest.raises(ValueError):
        Audio(np.zeros(10, dtype=np.float32), 44100)
    with pytest.raises(TypeError):
        Audio(np.zeros((2, 10), dtype=np.int16), 44100)
    with pytest.raises(ValueError):
        Audio(np.zeros((2, 10), dtype=np.float32), 0)


def test_supported_suffixes_cover_the_formats_users_drop():
    assert {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus"} <= SUPPORTED_SUFFIXES
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in SUPPORTED_SUFFIXES)


# --- round trips -------------------------------------------------------------

# Largest error a format may add to a sample in [-0.5, 0.5]: half a step, plus float rounding.
TOLERANCE = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 0.0}


@pytest.mark.parametrize("rate", [8_000, 44_100, 48_000, 96_000, 192_000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    "suffix, subtype",
    [(".wav", "PCM_16"), (".wav", "PCM_24"), (".wav", "FLOAT"), (".flac", "PCM_16"), (".flac", "PCM_24")],
)
def test_write_then_decode_round_trip(tmp_path, rate, channels, suffix, subtype):
    rng = np.random.default_rng(rate + channels)
    original = Audio(rng.uniform(-0.5, 0.5, (channels, rate // 20)).astype(np.float32), rate)

    written = write_audio(tmp_path / f"song{suffix}", original, subtype)

    assert written == tmp_path / f"song{suffix}"
    info = soundfile.info(written)
    assert (info.channels, info.samplerate, info.subtype) == (channels, rate, subtype)
    decoded = decode(written)
    assert decoded.rate == rate
    assert decoded.samples.shape == original.samples.shape
    assert decoded.samples.dtype == np.float32
    assert np.max(np.abs(decoded.samples - original.samples)) <= TOLERANCE[subtype]
    assert os.listdir(tmp_path) == [f"song{suffix}"]


@pytest.mark.parametrize("suffix", [".ogg", ".mp3"])
def test_decode_lossy_files_written_by_soundfile(tmp_path, suffix):
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, sine(440, 44_100, 1.0).T, 44_100)

    audio = decode(path)

    assert (audio.channels, audio.rate) == (2, 44_100)
    assert audio.duration == pytest.approx(1.0, abs=0.03)
    assert dominant_frequency(audio.samples, audio.rate) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    "name, codec, container_format, rate, slack_s",
    [
        # AAC puts 1024 priming samples in front; MP4 trims most of them, raw ADTS none.
        ("tone.m4a", "aac", None, 44_100, 0.03),
        ("tone.aac", "aac", "adts", 48_000, 0.05),
        ("tone.opus", "libopus", None, 48_000, 0.01),
    ],
)
def test_decode_files_only_ffmpeg_reads(tmp_path, name, codec, container_format, rate, slack_s):
    path = tmp_path / name
    encode_with_pyav(path, codec, sine(440, rate, 1.0), rate, container_format)

    audio = decode(path)

    assert (audio.channels, audio.rate) == (2, rate)
    assert audio.samples.dtype == np.float32 and audio.samples.flags["C_CONTIGUOUS"]
    assert audio.duration == pytest.approx(1.0, abs=slack_s)
    assert dominant_frequency(audio.samples, audio.rate) == pytest.approx(440, abs=2)
    # The second channel was encoded at half the level of the first.
    level = np.sqrt(np.mean(audio.samples**2, axis=1))
    assert level[1] / level[0] == pytest.approx(0.5, abs=0.05)


def test_decode_demo_song():
    audio = decode(DEMO_SONG)

    assert (audio.channels, audio.rate) == (2, 44_100)
    assert audio.duration == pytest.approx(10.88, abs=0.05)
    assert np.sqrt(np.mean(audio.samples**2)) > 0.01
    assert np.isfinite(audio.samples).all()


def test_truncated_mp3_returns_the_decodable_part_with_a_warning(tmp_path, caplog):
    whole = DEMO_SONG.read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(whole[: len(whole) // 3])

    with caplog.at_level(logging.WARNING, logger="stemdesk.audio"):
        audio = decode(path)

    assert audio.duration == pytest.approx(10.88 / 3, abs=0.3)
    assert audio.channels == 2 and audio.rate == 44_100
    assert any("ends early" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("name, container_format", [("hurt.aac", "adts"), ("hurt.m4a", None)])
def test_damaged_packets_in_the_middle_are_skipped_with_a_warning(tmp_path, caplog, name, container_format):
    path = tmp_path / name
    encode_with_pyav(path, "aac", sine(440, 48_000, 2.0), 48_000, container_format)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="stemdesk.audio"):
        audio = decode(path)

    # Stopping at the damage would give about 1 s.
    assert 1.6 < audio.duration < 2.1
    assert dominant_frequency(audio.samples, audio.rate) == pytest.approx(440, abs=2)
    assert any("damaged" in record.getMessage() for record in caplog.records)


def test_m4a_cut_before_its_index_is_an_error(tmp_path):
    whole = tmp_path / "whole.m4a"
    encode_with_pyav(whole, "aac", sine(440, 44_100, 1.0), 44_100)
    path = tmp_path / "cut.m4a"
    # PyAV writes the MP4 index (moov) last, so the first half has none.
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(StemdeskError) as error:
        decode(path)
    assert_one_line_naming(error, path)


def test_mp3_cut_inside_its_first_frames_is_an_error(tmp_path):
    path = tmp_path / "stub.mp3"
    path.write_bytes(DEMO_SONG.read_bytes()[:400])

    with pytest.raises(StemdeskError) as error:
        decode(path)
    assert_one_line_naming(error, path)


# --- bad input -----------------------------------------------------------------


def write_wav_header_only(path, channels: int, rate: int) -> None:
    """A PCM_16 WAV whose fmt chunk says `channels` and `rate`, with 4 bytes of data."""
    block_align = max(channels, 1) * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block_align, block_align, 16)
    data = b"\x00" * 4
    chunks = [b"fmt ", struct.pack("<I", len(fmt)), fmt, b"data", struct.pack("<I", len(data)), data]
    body = b"WAVE" + b"".join(chunks)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def make_missing(tmp_path):
    return tmp_path / "nowhere.wav"


def make_folder(tmp_path):
    folder = tmp_path / "album.wav"
    folder.mkdir()
    return folder


def make_empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    return path


def make_text(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my practice notes, not audio\n" * 50)
    return path


def make_garbage_mp3(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    return path


def make_zero_samples(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros((0, 2), dtype=np.float32), 44_100)
    return path


def make_nan(tmp_path):
    path = tmp_path / "nan.wav"
    samples = np.zeros((100, 2), dtype=np.float32)
    samples[50, 1] = np.nan
    soundfile.write(path, samples, 44_100, subtype="FLOAT")
    return path


def make_inf(tmp_path):
    path = tmp_path / "inf.wav"
    samples = np.zeros((100, 1), dtype=np.float32)
    samples[7, 0] = -np.inf
    soundfile.write(path, samples, 44_100, subtype="FLOAT")
    return path


def make_low_rate(tmp_path):
    path = tmp_path / "slow.wav"
    soundfile.write(path, np.zeros((400, 1), dtype=np.float32), MIN_RATE // 2)
    return path


def make_high_rate(tmp_path):
    path = tmp_path / "fast.wav"
    soundfile.write(path, np.zeros((400, 1), dtype=np.float32), MAX_RATE * 2)
    return path


def make_zero_channels(tmp_path):
    path = tmp_path / "nochannels.wav"
    write_wav_header_only(path, channels=0, rate=44_100)
    return path


def make_video_without_audio(tmp_path):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    "make_bad_file, reason",
    [
        (make_missing, "no such file"),
        (make_folder, "folder"),
        (make_empty, "empty"),
        (make_text, "not an audio file"),
        (make_garbage_mp3, "cannot decode"),
        (make_zero_samples, "0 samples"),
        (make_nan, "NaN or infinite"),
        (make_inf, "NaN or infinite"),
        (make_low_rate, "4000 Hz"),
        (make_high_rate, "384000 Hz"),
        (make_zero_channels, "no audio channels"),
        (make_video_without_audio, "no audio stream"),
    ],
)
def test_bad_input_gives_one_line_error_naming_the_file(tmp_path, make_bad_file, reason):
    path = make_bad_file(tmp_path)

    with pytest.raises(StemdeskError) as error:
        decode(path)

    assert_one_line_naming(error, path)
    assert reason in str(error.value)


def test_decode_keeps_more_than_two_channels(tmp_path):
    path = tmp_path / "surround.flac"
    soundfile.write(path, sine(440, 48_000, 0.1, channels=6).T, 48_000)

    audio = decode(path)

    assert audio.channels == 6
    assert np.allclose(audio.samples, sine(440, 48_000, 0.1, channels=6), atol=2.0**-15)


# --- resample --------------------------------------------------------------------


@pytest.mark.parametrize(
    "source_rate, target_rate", [(44_100, 48_000), (48_000, 44_100), (44_100, 8_000), (22_050, 96_000)]
)
def test_resample_keeps_frequency_and_length_ratio(source_rate, target_rate):
    original = Audio(sine(1000, source_rate, 1.0), source_rate)

    converted = resample(original, target_rate)

    assert converted.rate == target_rate
    assert converted.samples.dtype == np.float32 and converted.samples.flags["C_CONTIGUOUS"]
    assert converted.channels == 2
    assert abs(converted.num_samples - original.num_samples * target_rate / source_rate) <= 1
    assert dominant_frequency(converted.samples, target_rate) == pytest.approx(1000, abs=2)
    # Away from the edges the sine keeps its level on both channels.
    middle = converted.samples[:, target_rate // 10 : -target_rate // 10]
    sine_levels = [0.5 / np.sqrt(2), 0.25 / np.sqrt(2)]
    assert np.sqrt(np.mean(middle**2, axis=1)) == pytest.approx(sine_levels, rel=0.01)


def test_resample_to_the_same_rate_returns_the_input_itself():
    audio = Audio(sine(440, 44_100, 0.1), 44_100)
    assert resample(audio, 44_100) is audio


def test_resample_rejects_a_nonsense_rate():
    with pytest.raises(ValueError):
        resample(Audio(sine(440, 44_100, 0.1), 44_100), 0)


# --- write_audio ------------------------------------------------------------------


def test_pcm_is_clipped_to_full_scale_and_float_keeps_overs(tmp_path):
    hot = np.array([[-3.0, -1.5, -1.0, -0.25, 0.0, 0.25, 1.0, 1.5, 3.0]], dtype=np.float32)
    audio = Audio(hot, 44_100)

    for subtype in ("PCM_16", "PCM_24"):
        read, _ = soundfile.read(write_audio(tmp_path / f"{subtype}.wav", audio, subtype), dtype="float32")
        step = 2.0**-15 if subtype == "PCM_16" else 2.0**-23
        assert np.allclose(read, np.clip(hot[0], -1, 1), atol=step)
    read, _ = soundfile.read(write_audio(tmp_path / "float.wav", audio, "FLOAT"), dtype="float32")
    assert np.array_equal(read, hot[0])


def test_mono_is_written_as_a_mono_file(tmp_path):
    path = write_audio(tmp_path / "mono.flac", Audio(sine(440, 44_100, 0.1, channels=1), 44_100))
    assert soundfile.info(path).channels == 1


def test_long_audio_is_written_across_several_blocks(tmp_path):
    audio = Audio(sine(440, 44_100, 5.0), 44_100)  # more than one 65536-frame block
    decoded = decode(write_audio(tmp_path / "long.wav", audio, "FLOAT"))
    assert np.array_equal(decoded.samples, audio.samples)


@pytest.mark.parametrize(
    "name, subtype, reason",
    [
        ("song.mp3", "PCM_16", ".wav and .flac"),
        ("song.flac", "FLOAT", "not FLOAT"),
        ("song.wav", "PCM_8", "not PCM_8"),
    ],
)
def test_unsupported_format_or_subtype_is_refused(tmp_path, name, subtype, reason):
    with pytest.raises(StemdeskError) as error:
        write_audio(tmp_path / name, Audio(sine(440, 8_000, 0.1), 8_000), subtype)

    assert_one_line_naming(error, tmp_path / name)
    assert reason in str(error.value)
    assert os.listdir(tmp_path) == []


def test_nan_samples_are_refused_before_anything_is_written(tmp_path):
    samples = sine(440, 8_000, 0.1)
    samples[0, 3] = np.nan
    with pytest.raises(ValueError):
        write_audio(tmp_path / "bad.wav", Audio(samples, 8_000))
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_a_one_line_error(tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "stem.wav"
    with pytest.raises(StemdeskError) as error:
        write_audio(target, Audio(sine(440, 8_000, 0.1), 8_000))
    assert_one_line_naming(error, target)
    assert "does not exist" in str(error.value)


def test_a_file_in_place_of_the_folder_is_a_one_line_error(tmp_path):
    # A regular file as "folder" fails with ENOTDIR even for root, where chmod would not stop a write.
    not_a_folder = tmp_path / "stems"
    not_a_folder.write_text("I am a file")
    target = not_a_folder / "vocals.wav"

    with pytest.raises(StemdeskError) as error:
        write_audio(target, Audio(sine(440, 8_000, 0.1), 8_000))

    assert_one_line_naming(error, target)
    assert "is not a folder" in str(error.value)
    assert os.listdir(tmp_path) == ["stems"]


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs Linux sysfs, unwritable even for root")
def test_unwritable_folder_is_a_one_line_error():
    target = "/sys/stemdesk-test-vocals.wav"
    with pytest.raises(StemdeskError) as error:
        write_audio(target, Audio(sine(440, 8_000, 0.1), 8_000))
    assert_one_line_naming(error, target)
    assert not os.path.exists(target)


@pytest.mark.parametrize("name", ["stem.wav", "stem.flac"])
def test_a_write_failing_midway_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, file_size_limit, name):
    target = tmp_path / name
    target.write_bytes(b"previous take")
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 200_000)).astype(np.float32)

    file_size_limit(100_000)
    with pytest.raises(StemdeskError) as error:
        write_audio(target, Audio(noise, 44_100), "PCM_24")

    assert_one_line_naming(error, target)
    assert "too large" in str(error.value).lower()
    assert os.listdir(tmp_path) == [name]
    assert target.read_bytes() == b"previous take"


# --- atomic_path ---------------------------------------------------------------------


def test_atomic_path_replaces_the_target_on_success(tmp_path):
    target = tmp_path / "session.json"
    target.write_text("old")

    with atomic_path(target) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".session.json.") and temp.name.endswith(".part")
        temp.write_text("new")
        assert target.read_text() == "old"

    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["session.json"]


def test_atomic_path_gives_the_file_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "stem.wav") as temp:
            temp.write_bytes(b"RIFF")
    finally:
        os.umask(umask)
    assert (tmp_path / "stem.wav").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_atomic_path_removes_the_temp_file_when_interrupted(tmp_path, interruption):
    target = tmp_path / "vocals.flac"

    with pytest.raises(interruption):
        with atomic_path(target) as temp:
            temp.write_bytes(b"half a stem")
            raise interruption()

    assert os.listdir(tmp_path) == []


def test_atomic_path_turns_disk_full_into_a_one_line_error(tmp_path):
    target = tmp_path / "drums.wav"

    with pytest.raises(StemdeskError) as error:
        with atomic_path(target) as temp:
            temp.write_bytes(b"some bytes")
            # What a write would raise on a full disk.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp))

    assert_one_line_naming(error, target)
    assert "disk is full" in str(error.value)
    assert os.listdir(tmp_path) == []
