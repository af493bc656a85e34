"""Time `Mixer.render`, the work the audio callback does per block.

Renders blocks of a 44.1 kHz stereo mix of 4 and of 6 stems (noise) with the mix
changing as a musician would change it -- a fader move every 3 blocks (a ramp), a mute
or solo every 8, an A-B loop that wraps -- and prints, per stem count and block size,
the median and 99th-percentile time per block and the p99 as a share of the block's
duration. The target is p99 < 20 % of the block: the rest is PortAudio's, the other
threads' and the GIL's.

    python benchmarks/bench_audio_callback.py [--blocks 3000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stemdesk.playback.mixer import Mixer

RATE = 44100
STEM_NAMES = ("vocals", "drums", "bass", "guitar", "piano", "other")


def noise_stems(count: int, seconds: float) -> dict[str, np.ndarray]:
    """`count` stems of stereo noise: name -> float32 (2, seconds * RATE)."""
    rng = np.random.default_rng(0)
    samples = int(seconds * RATE)
    return {
        name: rng.uniform(-0.2, 0.2, (2, samples)).astype(np.float32)
        for name in STEM_NAMES[:count]
    }


def time_blocks(mixer: Mixer, frames: int, blocks: int) -> np.ndarray:
    """Seconds each of `blocks` calls of render took, with the mix changing meanwhile."""
    out = np.empty((frames, mixer.channels), dtype=np.float32)
    names = mixer.names
    # A loop of about 1.5 s somewhere in the song, so blocks wrap now and then.
    loop_start = mixer.length // 3
    base = mixer.state.with_loop((loop_start, loop_start + int(1.5 * RATE)))
    mixer.state = base
    mixer.seek(loop_start)
    mixer.render(out)
    durations = np.empty(blocks)
    state = base
    for block in range(blocks):
        if block % 3 == 0:
            state = state.with_gain(names[block % len(names)], -float(block % 24))
        if block % 8 == 0:
            name = names[(block // 8) % len(names)]
            state = state.with_mute(name, not state.controls[name].mute)
        if block % 40 == 0:
            state = state.with_solo(names[0], not state.controls[names[0]].solo)
        # The GUI builds states on its own thread; only the swap and render are timed.
        begin = time.perf_counter()
        mixer.state = state
        mixer.render(out)
        durations[block] = time.perf_counter() - begin
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3000, help="blocks timed per case")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the song")
    args = parser.parse_args()

    print(f"Mixer.render, {RATE} Hz stereo, {args.blocks} blocks per case")
    print(f"{'stems':>5} {'block':>6} {'block ms':>9} {'p50 us':>8} {'p99 us':>8} "
          f"{'max us':>8} {'p99/block':>10}")
    for count in (4, 6):
        mixer = Mixer(noise_stems(count, args.seconds), RATE)
        for frames in (256, 512, 1024):
            durations = time_blocks(mixer, frames, args.blocks)
            block_s = frames / RATE
            p50, p99 = np.percentile(durations, [50, 99])
            print(f"{count:>5} {frames:>6} {block_s * 1e3:>9.2f} {p50 * 1e6:>8.1f} "
                  f"{p99 * 1e6:>8.1f} {durations.max() * 1e6:>8.1f} {p99 / block_s:>9.2%}")


if __name__ == "__main__":
    main()
