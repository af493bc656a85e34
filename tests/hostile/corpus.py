"""The hostile-input corpus: song files a musician (or a broken download) may hand stemdesk.

Each :class:`Case` makes its file in a folder and says what must come of it:

- ``"stems"``: separated, no warning;
- ``"warn"``: separated from the part that could be read, with one warning line
  naming the file (a file that ends early or has damaged parts);
- ``"error"``: refused with one error line naming the file and holding ``says``.

Files are tiny (a fraction of a second of the demo song), so the whole corpus
separates in one CLI run of a few seconds.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from stemdesk import DEMO_SONG
from stemdesk.audio import decode

SECONDS = 0.4


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], Path]
    outcome: str
    says: str = ""


_DEMO = None


def demo(rate: int = 44100, channels: int = 2, seconds: float = SECONDS) -> np.ndarray:
    """float32 ``(samples, channels)`` of the demo's start (from 2 s in), at ``rate``."""
    global _DEMO
    if _DEMO is None:
        _DEMO = decode(DEMO_SONG)
    start = 2 * _DEMO.rate
    samples = _DEMO.samples[:, start : start + int(seconds * _DEMO.rate)].T
    if rate != _DEMO.rate:
        import soxr

        samples = soxr.resample(samples, _DEMO.rate, rate)
    if channels == 1:
        samples = samples.mean(axis=1, keepdims=True)
    elif channels > 2:
        samples = np.concatenate([samples] * channels, axis=1)[:, :channels]
    return np.ascontiguousarray(samples, dtype=np.float32)


def soundfile_song(name: str, subtype: str | None = None, rate: int = 44100, channels: int = 2,
                   samples: np.ndarray | None = None, file_format: str | None = None, seconds: float = SECONDS):
    def make(folder: Path) -> Path:
        path = folder / name
        data = demo(rate, channels, seconds) if samples is None else samples
        sf.write(path, data, rate, subtype=subtype, format=file_format)
        return path
    return make


def pyav_song(name: str, codec: str, rate: int = 44100, video: bool = False, audio: bool = True,
              layout: str = "stereo"):
    """A file PyAV (FFmpeg) encodes: ``codec`` audio, optionally with a tiny video stream."""
    def make(folder: Path) -> Path:
        path = folder / name
        with av.open(str(path), "w") as container:
            picture = None
            if video:
                picture = container.add_stream("mpeg4", rate=10)
                picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
            if audio:
                stream = container.add_stream(codec, rate=rate, layout=layout)
                planar = demo(rate, 1 if layout == "mono" else 2).T
                frame_size = stream.codec_context.frame_size or 1024
                kind = stream.codec_context.format.name
                for start in range(0, planar.shape[1], frame_size):
                    block = planar[:, start : start + frame_size]
                    frame = _frame(block, kind, layout, rate, start)
                    container.mux(stream.encode(frame))
                container.mux(stream.encode(None))
            if picture is not None:
                for index in range(4):
                    image = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 60 * index, np.uint8), format="rgb24")
                    image.pts = index
                    container.mux(picture.encode(image))
                container.mux(picture.encode(None))
        return path
    return make


def _frame(block: np.ndarray, kind: str, layout: str, rate: int, pts: int) -> av.AudioFrame:
    if kind == "fltp":
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
    elif kind == "flt":
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T.reshape(1, -1)), format="flt", layout=layout)
    elif kind == "s16":
        pcm = (np.clip(block, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T.reshape(1, -1)), format="s16", layout=layout)
    elif kind == "s16p":
        pcm = (np.clip(block, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="s16p", layout=layout)
    elif kind == "s32p":
        pcm = (np.clip(block.astype(np.float64), -1, 1) * (2**31 - 1)).astype(np.int32)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="s32p", layout=layout)
    else:
        raise ValueError(kind)
    frame.sample_rate, frame.pts = rate, pts
    return frame


def cut(make: Callable[[Path], Path], keep: float | int, name: str):
    """The file ``make`` writes, renamed to ``name`` and cut to ``keep`` bytes (or that share of it)."""
    def cut_file(folder: Path) -> Path:
        source = make(folder)
        data = source.read_bytes()
        source.unlink()
        size = keep if isinstance(keep, int) else int(len(data) * keep)
        path = folder / name
        path.write_bytes(data[:size])
        return path
    return cut_file


def patched(make: Callable[[Path], Path], offset: int, value: bytes, name: str):
    """The file ``make`` writes with ``value`` written over its bytes at ``offset``: a lying header."""
    def patch(folder: Path) -> Path:
        source = make(folder)
        data = bytearray(source.read_bytes())
        source.unlink()
        data[offset : offset + len(value)] = value
        path = folder / name
        path.write_bytes(bytes(data))
        return path
    return patch


def damaged_middle(make: Callable[[Path], Path], name: str):
    """The file ``make`` writes with a run of random bytes over its middle third."""
    def damage(folder: Path) -> Path:
        source = make(folder)
        data = bytearray(source.read_bytes())
        source.unlink()
        start, end = len(data) // 3, 2 * len(data) // 3
        data[start:end] = np.random.default_rng(3).integers(0, 256, end - start, dtype=np.uint8).tobytes()
        path = folder / name
        path.write_bytes(bytes(data))
        return path
    return damage


def random_bytes(name: str, size: int = 20_000):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(np.random.default_rng(len(name)).integers(0, 256, size, dtype=np.uint8).tobytes())
        return path
    return make


def text_file(name: str):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_text("Verse 1\nthese are my lyrics, not audio\n" * 40)
        return path
    return make


def empty_file(name: str):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(b"")
        return path
    return make


def with_values(name: str, values: dict[int, float], subtype: str = "FLOAT"):
    """A float WAV of the demo with some samples set to ``values`` (NaN, inf...)."""
    def make(folder: Path) -> Path:
        data = demo()
        for index, value in values.items():
            data[index, index % 2] = value
        path = folder / name
        sf.write(path, data, 44100, subtype=subtype)
        return path
    return make


def scaled(name: str, peak: float, subtype: str = "DOUBLE"):
    def make(folder: Path) -> Path:
        data = demo().astype(np.float64)
        data *= peak / np.abs(data).max()
        path = folder / name
        sf.write(path, data, 44100, subtype=subtype)
        return path
    return make


def symlink_loop(folder: Path) -> Path:
    path = folder / "loop.wav"
    path.symlink_to(path.name)
    return path


def fifo(folder: Path) -> Path:
    """A named pipe with no writer: reading it would wait forever."""
    path = folder / "pipe.wav"
    os.mkfifo(path)
    return path


def device_link(folder: Path) -> Path:
    """/dev/zero under a song's name: an endless stream of bytes."""
    path = folder / "endless.wav"
    path.symlink_to("/dev/zero")
    return path


def demo_mp3(name: str, keep: float = 1.0):
    def make(folder: Path) -> Path:
        data = DEMO_SONG.read_bytes()
        path = folder / name
        path.write_bytes(data[: int(len(data) * keep)])
        return path
    return make


def symlink_to(target_make: Callable[[Path], Path], name: str, broken: bool = False):
    def make(folder: Path) -> Path:
        target = target_make(folder)
        if broken:
            target.unlink()
        path = folder / name
        path.symlink_to(target)
        return path
    return make


def wav_header(rate: int, channels: int, bits: int, data_size: int, frames: bytes = b"") -> bytes:
    """A canonical PCM WAV header, whatever it claims, followed by ``frames``."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    return (b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_size) + frames)


def raw_wav(name: str, rate: int, channels: int, bits: int = 16, claimed_frames: int | None = None,
            frames: int = 4410):
    def make(folder: Path) -> Path:
        pcm = (demo(44100, 2)[:frames, :1].repeat(max(channels, 1), axis=1) * 20000).astype(np.int16)
        payload = pcm.tobytes() if bits == 16 else b""
        size = len(payload) if claimed_frames is None else claimed_frames * max(channels, 1) * bits // 8
        path = folder / name
        path.write_bytes(wav_header(rate, channels, bits, size, payload))
        return path
    return make


def unicode_bytes_name(folder: Path) -> Path:
    """A file name that is not valid UTF-8 (a Latin-1 'é' from an old archive)."""
    raw = os.fsencode(folder) + b"/caf\xe9.wav"
    with open(raw, "wb") as handle:
        sf.write(handle, demo(), 44100, subtype="FLOAT", format="WAV")
    return Path(os.fsdecode(raw))


WAV = soundfile_song("source.wav", "PCM_16")
FLAC = soundfile_song("source.flac", "PCM_16")
# Long enough that half of it holds audio after the Vorbis headers (a few kB of codebooks).
OGG = soundfile_song("source.ogg", "VORBIS", seconds=2.0)
M4A = pyav_song("source.m4a", "aac")

CASES: list[Case] = [
    # Truncated files: the part before the cut is the song.
    Case("wav-truncated-half", cut(WAV, 0.5, "wav-truncated.wav"), "warn", "ends early"),
    Case("flac-truncated-half", cut(FLAC, 0.5, "flac-truncated.flac"), "warn", "ends early|damaged"),
    Case("ogg-truncated-half", cut(OGG, 0.5, "ogg-truncated.ogg"), "warn", "ends early|damaged"),
    Case("mp3-truncated-half", demo_mp3("mp3-truncated.mp3", 0.5), "warn", "ends early"),
    # PyAV writes the index (moov) last: without it the audio cannot be found.
    Case("m4a-truncated-half", cut(M4A, 0.5, "m4a-truncated.m4a"), "error", "cannot decode"),
    # Cut right after the header: nothing to separate.
    Case("wav-header-only", cut(WAV, 44, "wav-header-only.wav"), "error", "no audio"),
    Case("flac-header-only", cut(FLAC, 120, "flac-header-only.flac"), "error", "cannot decode"),
    Case("ogg-header-only", cut(OGG, 200, "ogg-header-only.ogg"), "error", "cannot decode"),
    Case("mp3-header-only", demo_mp3("mp3-header-only.mp3", 300 / DEMO_SONG.stat().st_size), "error",
         "cannot decode"),
    Case("m4a-header-only", cut(M4A, 40, "m4a-header-only.m4a"), "error", "cannot decode"),
    # Headers that lie.
    Case("wav-claims-rate-0", raw_wav("wav-rate-0.wav", 0, 2), "error", "cannot"),
    Case("wav-claims-0-channels", raw_wav("wav-0-channels.wav", 44100, 0), "error", "cannot"),
    Case("wav-claims-more-data", raw_wav("wav-claims-more.wav", 44100, 2, claimed_frames=10_000_000), "warn",
         "ends early"),
    Case("wav-claims-rate-1", raw_wav("wav-rate-1.wav", 1, 2), "error", "sample rate 1 Hz"),
    # STREAMINFO says 0 Hz and 0 channels; the frames' own headers still say the truth.
    Case("flac-streaminfo-zeroed", patched(FLAC, 18, b"\x00\x00\x00", "flac-bad-streaminfo.flac"), "stems"),
    Case("ogg-bad-page", patched(OGG, 0, b"OggX", "ogg-bad-page.ogg"), "error", "cannot decode"),
    Case("flac-named-mp3", soundfile_song("flac-named.mp3", "PCM_16", file_format="FLAC"), "stems"),
    Case("m4a-damaged-middle", damaged_middle(M4A, "m4a-damaged.m4a"), "warn", "damaged"),
    Case("mp3-damaged-middle", damaged_middle(demo_mp3("mp3-d.mp3"), "mp3-damaged.mp3"), "warn", "damaged"),
    # Random bytes and text under every extension.
    *[Case(f"random-bytes-{suffix}", random_bytes(f"random.{suffix}"), "error", "cannot decode")
      for suffix in ("wav", "flac", "ogg", "mp3", "m4a", "aac", "opus", "mp4", "mkv")],
    Case("text-as-wav", text_file("lyrics.wav"), "error", "cannot decode"),
    Case("empty-mp3", empty_file("empty.mp3"), "error", "empty"),
    Case("unknown-suffix", soundfile_song("song.xyz", "PCM_16", file_format="WAV"), "stems"),
    # Length.
    Case("zero-samples", soundfile_song("zero.wav", "PCM_16", samples=np.zeros((0, 2), np.float32)), "error",
         "no audio"),
    Case("one-sample", soundfile_song("one.wav", "FLOAT", samples=np.full((1, 2), 0.5, np.float32)), "stems"),
    Case("ten-samples-mono", soundfile_song("ten.flac", "PCM_16", samples=np.full((10, 1), 0.1, np.float32)),
         "stems"),
    # Sample values.
    Case("nan-samples", with_values("nan.wav", {100: np.nan}), "error", "NaN or infinite"),
    Case("inf-samples", with_values("inf.wav", {200: np.inf, 201: -np.inf}), "error", "NaN or infinite"),
    Case("peak-1e3", scaled("loud-1e3.wav", 1e3), "stems"),
    Case("peak-1e30", scaled("loud-1e30.wav", 1e30), "stems"),
    Case("all-zero", soundfile_song("silence.wav", "PCM_16", samples=np.zeros((8820, 2), np.float32)), "stems"),
    # Sample rates: every class stemdesk takes, and outside.
    *[Case(f"rate-{rate}", soundfile_song(f"rate-{rate}.wav", "PCM_16", rate=rate), "stems")
      for rate in (8000, 11025, 16000, 22050, 32000, 48000, 88200, 96000, 176400, 192000)],
    Case("rate-4000", soundfile_song("rate-4000.wav", "PCM_16", rate=4000), "error", "outside 8000-192000"),
    Case("rate-384000", soundfile_song("rate-384000.wav", "PCM_16", rate=384000), "error", "outside 8000-192000"),
    # Channels.
    Case("three-channels", soundfile_song("three.wav", "PCM_16", channels=3), "error", "3 channels"),
    Case("six-channels-flac", soundfile_song("surround.flac", "PCM_16", channels=6), "error", "6 channels"),
    Case("mono-mp3", soundfile_song("mono.mp3", "MPEG_LAYER_III", channels=1, file_format="MP3"), "stems"),
    # Sample formats.
    *[Case(f"wav-{subtype.lower()}", soundfile_song(f"fmt-{subtype.lower()}.wav", subtype), "stems")
      for subtype in ("PCM_U8", "PCM_24", "PCM_32", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM")],
    Case("wav-gsm610-8k-mono", soundfile_song("fmt-gsm.wav", "GSM610", rate=8000, channels=1), "stems"),
    Case("aiff-24", soundfile_song("song.aiff", "PCM_24", file_format="AIFF"), "stems"),
    Case("opus", pyav_song("song.opus", "libopus", rate=48000), "stems"),
    Case("m4a-alac", pyav_song("alac.m4a", "alac"), "stems"),
    # Video files.
    Case("mp4-video-with-audio", pyav_song("clip.mp4", "aac", video=True), "stems"),
    Case("mkv-video-with-opus", pyav_song("clip.mkv", "libopus", rate=48000, video=True), "stems"),
    Case("mp4-video-without-audio", pyav_song("silent-film.mp4", "aac", video=True, audio=False), "error",
         "no audio stream"),
    # Odd names.
    Case("unicode-name", soundfile_song("曲 — née.wav", "PCM_16"), "stems"),
    Case("spaces-name", soundfile_song("  my song  .wav", "PCM_16"), "stems"),
    Case("leading-dash-name", soundfile_song("-rf.wav", "PCM_16"), "stems"),
    Case("dots-name", soundfile_song("...wav", "PCM_16", file_format="WAV"), "stems"),
    Case("hidden-name", soundfile_song(".hidden.wav", "PCM_16"), "stems"),
    Case("newline-name", soundfile_song("two\nlines.wav", "PCM_16"), "stems"),
    Case("long-name", soundfile_song("é" * 120 + ".wav", "PCM_16"), "stems"),
    Case("not-utf8-name", unicode_bytes_name, "stems"),
    Case("uppercase-suffix", soundfile_song("LOUD.WAV", "PCM_16"), "stems"),
    Case("symlink", symlink_to(soundfile_song("real.wav", "PCM_16"), "link.wav"), "stems"),
    Case("broken-symlink", symlink_to(soundfile_song("gone.wav", "PCM_16"), "dangling.wav", broken=True),
         "error", "no such file"),
    Case("missing-file", lambda folder: folder / "never-made.wav", "error", "no such file"),
    Case("symlink-loop", symlink_loop, "error", "symbolic links"),
    Case("fifo", fifo, "error", "not a regular file"),
    Case("device", device_link, "error", "not a regular file"),
    Case("peak-3e38", scaled("loud-3e38.wav", 3.3e38, subtype="FLOAT"), "error", "too loud"),
    Case("folder-named-wav", lambda folder: (folder / "album.wav").mkdir() or folder / "album.wav", "error",
         "no audio files in this folder"),
]
