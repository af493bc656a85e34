"""A playback soak: random play, pause, seek, loop, mute, solo, faders and model switches.

Runs the real Mixer and Player on whatever output PortAudio opens (ALSA's
null device in the tests and the benchmark: it has no clock, so an hour of
song plays in minutes). The clock is the song itself: frames the callback
rendered, divided by the rate. Used by tests/playback/test_soak.py (short)
and benchmarks/soak_playback.py (an hour).
"""

from __future__ import annotations

import gc
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from stemdesk.playback import Mixer, Player

ACTIONS = ("toggle", "seek", "loop", "unloop", "mute", "solo", "fader", "master", "switch")
WEIGHTS = (0.12, 0.2, 0.08, 0.05, 0.15, 0.12, 0.18, 0.05, 0.05)


class CountingMixer(Mixer):
    """The real mixer, counting the frames it renders and any exception the callback meets."""

    def __init__(self, stems, rate, report: SoakReport):
        super().__init__(stems, rate)
        self.report = report

    def render(self, out, fade_out=False):
        try:
            super().render(out, fade_out)
        except BaseException:
            self.report.exceptions.append(traceback.format_exc())
            raise
        self.report.frames += out.shape[0]


@dataclass
class SoakReport:
    """What a soak saw. ``frames``: rendered by the audio callback, all players together."""

    rate: int
    frames: int = 0
    wall_seconds: float = 0.0
    actions: Counter = field(default_factory=Counter)
    exceptions: list[str] = field(default_factory=list)
    status_blocks: int = 0
    #: Output underflows PortAudio reported.
    underflows: int = 0
    #: Blocks the callback took before the render thread had filled them. On ALSA's
    #: null device this counts nothing a sound card would hear: with no clock, the
    #: callback asks for the next block as soon as it has returned, faster than any
    #: producer renders (benchmarks/bench_audio_callback.py measures the real headroom).
    starved_blocks: int = 0
    rss_after_warmup: int = 0
    rss_at_end: int = 0

    @property
    def simulated_seconds(self) -> float:
        return self.frames / self.rate

    @property
    def growth_bytes(self) -> int:
        return self.rss_at_end - self.rss_after_warmup

    def lines(self) -> list[str]:
        return [
            f"simulated {self.simulated_seconds / 60:.1f} min of playback in {self.wall_seconds:.1f} s wall "
            f"({self.simulated_seconds / max(self.wall_seconds, 1e-9):.0f}x real time)",
            f"{sum(self.actions.values())} actions: "
            + ", ".join(f"{name} {count}" for name, count in sorted(self.actions.items())),
            f"exceptions {len(self.exceptions)}, blocks with PortAudio status flags {self.status_blocks}, "
            f"underflows {self.underflows} (blocks the clockless null device took before they were "
            f"rendered: {self.starved_blocks})",
            f"RSS {self.rss_after_warmup / 2**20:.1f} MB after warm-up, {self.rss_at_end / 2**20:.1f} MB at the end: "
            f"growth {self.growth_bytes / 2**20:+.2f} MB",
        ]


def resident_bytes() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak(
    separations: list[dict[str, np.ndarray]],
    rate: int,
    simulated_seconds: float,
    warmup_seconds: float = 60.0,
    seed: int = 0,
    blocksize: int = 1024,
) -> SoakReport:
    """Play ``separations`` (stems of one song by several models) under random actions.

    Stops once the callback has rendered ``simulated_seconds`` of song. A
    "switch" closes the player and opens the next separation where the
    playhead was, as the window does on a model change. Memory is compared
    from the end of the warm-up (first players, buffers and caches made) to
    the end.
    """
    rng = np.random.default_rng(seed)
    report = SoakReport(rate)
    started = time.monotonic()
    which = 0
    player = Player(CountingMixer(separations[which], rate, report), blocksize=blocksize)
    player.play()
    warm = False
    try:
        while report.simulated_seconds < simulated_seconds:
            time.sleep(rng.uniform(0.0005, 0.005))
            if not warm and report.simulated_seconds >= warmup_seconds:
                gc.collect()
                report.rss_after_warmup, warm = resident_bytes(), True
            action = str(rng.choice(ACTIONS, p=WEIGHTS))
            report.actions[action] += 1
            try:
                if action == "switch":
                    which = (which + 1) % len(separations)
                    player = _switch(player, CountingMixer(separations[which], rate, report), report, blocksize)
                else:
                    _act(action, player, rng)
                if not player.is_playing and rng.random() < 0.8:
                    player.play()
            except Exception:
                report.exceptions.append(traceback.format_exc())
    finally:
        _count_flags(player, report)
        player.close()
    report.wall_seconds = time.monotonic() - started
    gc.collect()
    report.rss_at_end = resident_bytes()
    if not warm:
        report.rss_after_warmup = report.rss_at_end
    return report


def _switch(player: Player, mixer: Mixer, report: SoakReport, blocksize: int) -> Player:
    """Close ``player`` and play ``mixer`` from where it was, as a model change does."""
    position, playing = player.position, player.is_playing
    _count_flags(player, report)
    player.close()
    player = Player(mixer, blocksize=blocksize)
    player.seek(position)
    if playing:
        player.play()
    return player


def _count_flags(player: Player, report: SoakReport) -> None:
    report.status_blocks += player.status_count
    report.underflows += player.portaudio_underflow_count
    report.starved_blocks += player.starved_count


def _act(action: str, player: Player, rng) -> None:
    mixer = player.mixer
    state = mixer.state
    name = str(rng.choice(mixer.names))
    if action == "toggle":
        player.toggle()
    elif action == "seek":
        player.seek(int(rng.integers(0, mixer.length)))
    elif action == "loop":
        start = int(rng.integers(0, mixer.length - 1))
        player.set_state(state.with_loop((start, int(rng.integers(start + 1, mixer.length + 1)))))
    elif action == "unloop":
        player.set_state(state.with_loop(None))
    elif action == "mute":
        player.set_state(state.with_mute(name, not state.controls[name].mute))
    elif action == "solo":
        player.set_state(state.with_solo(name, not state.controls[name].solo))
    elif action == "fader":
        player.set_state(state.with_gain(name, float(rng.choice([-np.inf, rng.uniform(-40.0, 6.0)]))))
    elif action == "master":
        player.set_state(state.with_master(float(rng.uniform(-20.0, 0.0))))
