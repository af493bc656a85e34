"""What the musician sets for practising, besides the mix: tempo, transpose, click, count-in.

`PracticeState` is immutable and swapped as one reference, like `MixerState`: the GUI
builds a new one and hands it to the player; the render thread reads it once per chunk.
`SpeedTrainer` is a plain value the render thread consults at each loop wrap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from stemdesk.playback.stretcher import check_tempo, pitch_factor


@dataclass(frozen=True)
class SpeedTrainer:
    """Each pass of the loop `step_percent` points faster, from `start` up to `target`.

    start, target: tempo ratios (0.7 is 70 %), start <= target; step_percent: percentage
    points added per pass (5 takes 70 % to 75 %, 80 %, ...). Pass 0 is the first pass.
    """

    start: float
    target: float
    step_percent: float

    def __post_init__(self) -> None:
        start, target = check_tempo(self.start), check_tempo(self.target)
        if start > target:
            raise ValueError(f"a speed trainer goes up: start {start} is above target {target}")
        if not (math.isfinite(self.step_percent) and self.step_percent > 0):
            raise ValueError(f"step_percent must be a positive number, got {self.step_percent}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "target", target)

    def tempo_for_pass(self, loop_pass: int) -> float:
        """Tempo of pass number `loop_pass` (0, 1, 2...): start + pass * step, capped at target."""
        return min(self.target, self.start + loop_pass * self.step_percent / 100.0)


@dataclass(frozen=True)
class PracticeState:
    """Tempo, pitch, click and count-in settings, as one immutable value.

    tempo: playback speed ratio, 0.25-2.0 (1.0 as recorded); ignored while `trainer` is set.
    semitones, cents: transposition, -12..12 semitones and -50..50 cents.
    click_db, click_muted: the click strip's level and mute.
    count_in_bars: bars of click (0, 1 or 2) before playback starts.
    count_in_each_loop: also count in before every pass of the loop.
    trainer: a `SpeedTrainer` that sets the tempo of each loop pass, or None.
    """

    tempo: float = 1.0
    semitones: float = 0.0
    cents: float = 0.0
    click_db: float = -6.0
    click_muted: bool = True
    count_in_bars: int = 0
    count_in_each_loop: bool = False
    trainer: SpeedTrainer | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tempo", check_tempo(self.tempo))
        pitch_factor(self.semitones, self.cents)
        if self.count_in_bars not in (0, 1, 2):
            raise ValueError(f"a count-in is 0, 1 or 2 bars, got {self.count_in_bars}")
        if math.isnan(self.click_db) or self.click_db == math.inf:
            raise ValueError(f"the click level in dB must be a number or -inf, got {self.click_db}")

    @property
    def pitch(self) -> float:
        """Frequency factor of the transposition."""
        return pitch_factor(self.semitones, self.cents)

    @property
    def stretched(self) -> bool:
        """Whether anything asks for the stretcher (a tempo or pitch other than as recorded)."""
        return self.tempo != 1.0 or self.semitones != 0.0 or self.cents != 0.0 or self.trainer is not None

    def with_tempo(self, ratio: float) -> PracticeState:
        return replace(self, tempo=ratio)

    def with_transpose(self, semitones: float, cents: float = 0.0) -> PracticeState:
        return replace(self, semitones=float(semitones), cents=float(cents))

    def with_click(self, level_db: float, muted: bool) -> PracticeState:
        return replace(self, click_db=float(level_db), click_muted=bool(muted))

    def with_count_in(self, bars: int, before_each_loop: bool = False) -> PracticeState:
        return replace(self, count_in_bars=int(bars), count_in_each_loop=bool(before_each_loop))

    def with_trainer(self, trainer: SpeedTrainer | None) -> PracticeState:
        return replace(self, trainer=trainer)

