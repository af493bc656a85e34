"""Time the audio callback's work per block, alone and with the tempo/pitch render thread.

Part 1, `Mixer.render` (the stem mixer the render thread runs): blocks of a 44.1 kHz stereo
mix of 4 and of 6 stems (noise) with the mix changing as a musician would change it -- a
fader move every 3 blocks (a ramp), a mute or solo every 8, an A-B loop that wraps -- and
prints, per stem count and block size, the median and 99th-percentile time per block and
the p99 as a share of the block's duration.

Part 2, the player's path: 6 stems at tempo 0.7 and transpose -3 with the click on, the real
render thread (mixer -> Rubber Band -> click) keeping the ring filled, and a thread standing
in for PortAudio that calls the callback's `BlockFeed.fill` once per block period, on the
clock. Prints the p50/p99 of that call as a share of the block, the blocks the ring could
not fill, and the render thread's share of one core (its CPU time over the wall time).

The target is p99 < 20 % of the block: the rest is PortAudio's, the other threads' and
the GIL's.

    python benchmarks/bench_audio_callback.py [--blocks 3000] [--seconds 20] [--play 8]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from stemdesk.playback.click import BeatGrid
from stemdesk.playback.feed import BlockFeed
from stemdesk.playback.mixer import Mixer
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.render_thread import RenderThread
from stemdesk.playback.ring import OutputRing
from stemdesk.playback.practice import PracticeState

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


def play_on_the_clock(stems: dict[str, np.ndarray], frames: int, seconds: float) -> tuple[np.ndarray, int, float]:
    """Run the player's path for `seconds`: returns the seconds each `fill` took, the blocks
    left short, and the render thread's CPU share of one core."""
    mixer = Mixer(stems, RATE)
    loop_start = mixer.length // 3
    mixer.state = mixer.state.with_loop((loop_start, loop_start + 4 * RATE))
    beats = np.arange(0, mixer.length / RATE, 0.5)
    pipeline = RenderPipeline(mixer, BeatGrid(beats, beats[::4]))
    pipeline.practice = PracticeState(tempo=0.7, semitones=-3, click_db=-6.0, click_muted=False)
    ring = OutputRing(mixer.channels, 1 << 15)
    feed = BlockFeed(ring, mixer.length, frames)
    out = np.empty((frames, mixer.channels), dtype=np.float32)
    durations = []

    def audio_clock() -> None:
        # What PortAudio does: one callback per block period, on the clock.
        period = frames / RATE
        deadline = time.perf_counter()
        stop = deadline + seconds
        while deadline < stop:
            deadline += period
            pause = deadline - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            begin = time.perf_counter()
            feed.fill(out, False)
            durations.append(time.perf_counter() - begin)

    renderer = RenderThread(pipeline, ring, max(2 * frames, 2048))
    renderer.restart(loop_start)
    renderer.wait_filled(timeout=2.0)
    feed.underruns = 0
    wall = time.perf_counter()
    cpu_before = renderer.cpu_seconds
    clock = threading.Thread(target=audio_clock)
    clock.start()
    clock.join()
    wall = time.perf_counter() - wall
    renderer.stop()
    return np.array(durations), feed.underruns, (renderer.cpu_seconds - cpu_before) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3000, help="blocks timed per case")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the song")
    parser.add_argument("--play", type=float, default=8.0, help="seconds of playing per case in part 2")
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

    print()
    print(f"Player path: 6 stems, tempo 0.7, transpose -3, click on; {args.play:g} s per case")
    print(f"{'block':>6} {'p50 us':>8} {'p99 us':>8} {'max us':>8} {'p99/block':>10} "
          f"{'short':>6} {'render core':>12}")
    stems = noise_stems(6, args.seconds)
    for frames in (256, 512, 1024):
        durations, short, share = play_on_the_clock(stems, frames, args.play)
        block_s = frames / RATE
        p50, p99 = np.percentile(durations, [50, 99])
        print(f"{frames:>6} {p50 * 1e6:>8.1f} {p99 * 1e6:>8.1f} {durations.max() * 1e6:>8.1f} "
              f"{p99 / block_s:>9.2%} {short:>6} {share:>11.1%}")


if __name__ == "__main__":
    main()
