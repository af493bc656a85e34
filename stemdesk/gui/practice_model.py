"""The practice set-up the musician sees: a PracticeSetup behind a Qt signal.

Like :class:`~stemdesk.gui.mixer_model.MixerModel`: every change makes a new
immutable :class:`~stemdesk.practice.PracticeSetup` and fires
``state_changed``; the transport derives the player's loop, tempo and click
from it, and the views and the transport bar redraw from it. The song's beat
grid (an immutable :class:`~stemdesk.analysis.grid.BeatGrid`) lives here too,
with whether the musician corrected it (a corrected grid is saved with the song).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from stemdesk.analysis.grid import BeatGrid
from stemdesk.practice import COUNT_IN_CHOICES, PracticeSetup, SpeedTrainer


class PracticeModel(QObject):
    """Loop, tempo, transpose, click, count-in, trainer and markers of the open song.

    Signals:
        state_changed(PracticeSetup): after any change.
        grid_changed(object): a new BeatGrid, or None when the song has none (yet).
        grid_edited(BeatGrid): the musician corrected the grid (to be kept with the song).
    """

    state_changed = Signal(object)
    grid_changed = Signal(object)
    grid_edited = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._state = PracticeSetup()
        self._grid: BeatGrid | None = None
        self.grid_corrected = False

    @property
    def grid(self) -> BeatGrid | None:
        return self._grid

    def set_grid(self, grid: BeatGrid | None, corrected: bool = False) -> None:
        """Use ``grid`` (analysed, or ``corrected`` by the musician) from now on."""
        self._grid = grid
        self.grid_corrected = corrected and grid is not None
        self.grid_changed.emit(grid)

    def correct_grid(self, grid: BeatGrid) -> None:
        """The musician's correction of the grid: used from now on and fired as ``grid_edited``."""
        self.set_grid(grid, corrected=True)
        self.grid_edited.emit(grid)

    @property
    def state(self) -> PracticeSetup:
        return self._state

    def reset(self, state: PracticeSetup | None = None) -> None:
        """Start from ``state`` (a fresh set-up when None), e.g. for a newly opened song."""
        self._state = state if state is not None else PracticeSetup()
        self.state_changed.emit(self._state)

    def set_loop(self, span: tuple[float, float] | None, looping: bool | None = None) -> None:
        """Mark the A-B span (seconds); ``looping`` None keeps playing or not playing it as it was."""
        self._update(self._state.with_loop(span, looping))

    def set_looping(self, looping: bool) -> bool:
        """Loop the marked span or stop looping; False (and nothing changes) when no span is marked."""
        if looping and self._state.loop is None:
            return False
        self._update(self._state.change(looping=looping))
        return True

    def set_tempo(self, tempo: float) -> None:
        self._update(self._state.with_tempo(tempo))

    def nudge_tempo(self, step: float) -> None:
        """Tempo up (or down) by ``step`` of the original, e.g. 0.05 for 5 %."""
        self.set_tempo(self._state.tempo + step)

    def set_transpose(self, semitones: float) -> None:
        self._update(self._state.with_transpose(semitones))

    def nudge_transpose(self, semitones: float) -> None:
        self.set_transpose(self._state.transpose + semitones)

    def set_click(self, on: bool) -> None:
        self._update(self._state.change(click=bool(on)))

    def toggle_click(self) -> None:
        self.set_click(not self._state.click)

    def set_click_db(self, db: float) -> None:
        self._update(self._state.change(click_db=min(12.0, max(-60.0, float(db)))))

    def toggle_snap(self) -> None:
        self._update(self._state.change(snap=not self._state.snap))

    def set_count_in(self, bars: int) -> None:
        self._update(self._state.change(count_in_bars=int(bars)))

    def cycle_count_in(self) -> None:
        """0 -> 1 -> 2 -> 0 bars of count-in."""
        index = COUNT_IN_CHOICES.index(self._state.count_in_bars)
        self.set_count_in(COUNT_IN_CHOICES[(index + 1) % len(COUNT_IN_CHOICES)])

    def set_count_in_each_pass(self, on: bool) -> None:
        self._update(self._state.change(count_in_each_pass=bool(on)))

    def set_trainer(self, trainer: SpeedTrainer | None) -> None:
        """Turn the speed trainer on (its start tempo applies at once) or off."""
        changes = {"trainer": trainer}
        if trainer is not None:
            changes["tempo"] = trainer.start
        self._update(self._state.change(**changes))

    def add_marker(self, name: str, seconds: float) -> None:
        self._update(self._state.with_marker(name, seconds))

    def _update(self, state: PracticeSetup) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)
