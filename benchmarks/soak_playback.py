"""An hour of random playback on real separations, through PortAudio's null device.

The demo song is separated by every installed model given (--models); the
soak then plays it with random play/pause, seeks, A-B loops, mutes, solos,
fader and master moves and model switches (closing the player and opening
the next model's stems where the playhead was, as the window does) until the
callback has rendered --minutes of song. The null device has no clock, so
the hour passes in minutes. Prints the actions, exceptions, PortAudio status
flags and underflows, and RSS growth after the warm-up.

    python benchmarks/soak_playback.py [--minutes 60] [--models spleeter-2stems drums-unet bass-unet] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--models", nargs="+", default=["spleeter-2stems", "drums-unet", "bass-unet"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stemdesk-soak-") as home:
        (Path(home) / ".asoundrc").write_text("pcm.!default { type null }\n")
        os.environ["HOME"] = home  # before PortAudio starts: ALSA reads it then

        from stemdesk.audio import decode
        from stemdesk.catalogue import Catalogue
        from tests.playback.soak import soak

        song = decode(ROOT / "resources" / "demo" / "audio_example.mp3")
        catalogue = Catalogue()
        separations = []
        for model in args.models:
            stems = catalogue.open(model, device="cpu").separate(song)
            separations.append({name: stem.samples for name, stem in stems.items()})
        print(f"the demo song ({song.duration:.1f} s) separated by {', '.join(args.models)}")
        report = soak(separations, song.rate, simulated_seconds=args.minutes * 60, seed=args.seed)
        for line in report.lines():
            print(line)
        for text in report.exceptions[:3]:
            print(text)


if __name__ == "__main__":
    main()
