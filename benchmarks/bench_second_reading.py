"""What the hybrid engine's extra reading of a file costs: CPU time of the first reading (decode + statistics).

`stemdesk separate` with a hybrid model reads a file twice, the first time
only for the mean and std the normalisation needs
(:func:`stemdesk.hybrid.song_statistics`). The demo tiled to --seconds
(default 600) is written as a 16-bit WAV at 44.1 kHz (the card's rate), as a
16-bit WAV at 48 kHz (resampled on reading) and as an MP3; for each, the best
of --repeats runs of one plain reading and of the statistics' reading is
printed, in CPU seconds (this process only, so the load of other jobs counts
little), to set against the separation's (``bench_demucs.py``).

    python benchmarks/bench_second_reading.py [--seconds 600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stemdesk import DEMO_SONG  # noqa: E402
from stemdesk.audio_stream import open_stream  # noqa: E402
from stemdesk.hybrid import song_statistics  # noqa: E402
from stemdesk.hybrid_card import HTDEMUCS_CARD, HybridCard  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    card = HybridCard.load(HTDEMUCS_CARD)
    demo, rate = sf.read(DEMO_SONG, dtype="float32", always_2d=True)
    length = int(args.seconds * rate)
    song = np.tile(demo, (length // len(demo) + 1, 1))[:length]
    files = {
        "WAV 16-bit 44.1 kHz": ("song.wav", song, rate, {"subtype": "PCM_16"}),
        "WAV 16-bit 48 kHz": ("song48.wav", soxr.resample(song, rate, 48000), 48000, {"subtype": "PCM_16"}),
        "MP3 44.1 kHz": ("song.mp3", song, rate, {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    }
    print(f"song: demo tiled to {args.seconds:g} s; best of {args.repeats}, CPU seconds")
    with tempfile.TemporaryDirectory() as folder:
        for label, (name, samples, file_rate, file_format) in files.items():
            path = Path(folder) / name
            sf.write(path, samples, file_rate, **file_format)
            audio = open_stream(path)
            reading, statistics = [], []
            for _ in range(args.repeats):
                start = time.process_time()
                for _block in audio.blocks():
                    pass
                reading.append(time.process_time() - start)
                start = time.process_time()
                song_statistics(audio.blocks(), audio.rate, card)
                statistics.append(time.process_time() - start)
            print(f"{label:20s} a reading {min(reading):6.2f} s   the statistics' reading {min(statistics):6.2f} s")


if __name__ == "__main__":
    main()
