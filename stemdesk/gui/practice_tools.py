"""What the Practice and Grid menus do: loops on bars, markers, tap tempo and grid corrections.

Each action reads the playhead from the transport, the grid and the loop from
the practice model, and writes back a new loop or grid there; the window only
shows the result. Problems the musician can fix ("no grid yet") come out as
``message`` signals, for the window's banner.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QInputDialog,
    QSpinBox,
    QWidget,
)

from stemdesk.analysis.grid import (
    BeatGrid,
    double_tempo,
    halve_tempo,
    set_downbeat,
    shift_grid,
    tap_tempo,
    uniform_grid,
)
from stemdesk.errors import StemdeskError
from stemdesk.gui.practice_model import PracticeModel
from stemdesk.gui.transport import Transport
from stemdesk.practice import MAX_TEMPO, MIN_TEMPO, SpeedTrainer, bar_at, bar_span, move_span

#: Taps further apart than this start a new count.
TAP_RESET_SECONDS = 2.0
#: Taps needed before the grid follows them.
TAPS_NEEDED = 4


class PracticeTools(QObject):
    """The practice and grid actions on one practice model and transport.

    Signals:
        message(text, level): something to tell the musician ("info" or "warning").
    """

    message = Signal(str, str)

    def __init__(self, practice: PracticeModel, transport: Transport, window: QWidget):
        super().__init__(window)
        self.practice = practice
        self.transport = transport
        self.window = window
        self._taps: list[tuple[float, float]] = []

    @property
    def playhead(self) -> float:
        """The playhead in song seconds."""
        rate = self.transport.rate
        return self.transport.position / rate if rate else 0.0

    def _need_grid(self) -> BeatGrid | None:
        grid = self.practice.grid
        if grid is None or len(grid.downbeats) == 0:
            self.message.emit("The beat grid is not ready yet: tap the tempo (T) or wait for the analysis.", "info")
            return None
        return grid

    # --- loops on the grid ------------------------------------------------------------

    def loop_bars(self, first: int, last: int) -> bool:
        """Loop bars ``first`` to ``last`` (inclusive) and play from the loop's start; False if not in the song."""
        grid = self._need_grid()
        if grid is None:
            return False
        try:
            span = bar_span(grid, first, last)
        except ValueError as error:
            self.message.emit(f"Cannot loop: {error}.", "warning")
            return False
        self.practice.set_loop(span, looping=True)
        if not self.transport.is_playing or not span[0] <= self.playhead < span[1]:
            self.transport.seek_seconds(span[0])
        return True

    def loop_span(self, start: float, end: float) -> None:
        """Loop [start, end] seconds now (a stem's span clicked in its activity lane)."""
        self.practice.set_loop((start, end), looping=True)
        if not self.transport.is_playing or not start <= self.playhead < end:
            self.transport.seek_seconds(start)

    def loop_current_bar(self) -> None:
        """Loop the bar under the playhead (Shift+L)."""
        grid = self._need_grid()
        if grid is not None:
            bar = max(bar_at(grid, self.playhead), 1)
            self.loop_bars(bar, bar)

    def move_loop_by_bars(self, bars: int) -> None:
        """Move the loop ``bars`` bars later (negative: earlier), keeping its length in bars."""
        state = self.practice.state
        grid = self._need_grid()
        if grid is None or state.loop is None:
            return
        span = move_span(grid, state.loop, bars)
        self.practice.set_loop(span)
        if state.looping and not span[0] <= self.playhead < span[1]:
            self.transport.seek_seconds(span[0])

    def show_loop_bars_dialog(self) -> QInputDialog | None:
        """Ask for "17-20" (or "17") and loop those bars; non-modal."""
        grid = self._need_grid()
        if grid is None:
            return None
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Loop bars")
        dialog.setLabelText(f"Bars to loop (1-{len(grid.downbeats)}), e.g. 17-20:")
        current = self.practice.state.loop
        if current is not None:
            first, last = bar_at(grid, current[0]), max(bar_at(grid, current[1] - 1e-3), 1)
            dialog.setTextValue(f"{max(first, 1)}-{last}")
        dialog.textValueSelected.connect(self.loop_bars_text)
        dialog.show()
        return dialog

    def loop_bars_text(self, text: str) -> bool:
        """Loop the bars ``text`` names: "17-20", "17 - 20", "17 to 20" or "17"."""
        words = text.replace("-", " ").replace("to", " ").split()
        try:
            numbers = [int(word) for word in words]
        except ValueError:
            numbers = []
        if len(numbers) not in (1, 2):
            self.message.emit(f"Bars to loop look like 17-20, not {text!r}.", "warning")
            return False
        return self.loop_bars(numbers[0], numbers[-1])

    def show_trainer_dialog(self) -> SpeedTrainerDialog:
        dialog = SpeedTrainerDialog(self.practice.state.trainer or SpeedTrainer(), self.window)
        dialog.chosen.connect(self.practice.set_trainer)
        dialog.show()
        return dialog

    def add_marker(self, name: str | None = None) -> None:
        """A named marker at the playhead; asks for the name when none is given."""
        seconds = self.playhead
        if name is None:
            name, ok = QInputDialog.getText(self.window, "Add a marker", "Name of the section starting here:")
            if not ok:
                return
        name = name.strip()
        if name:
            self.practice.add_marker(name[:80], seconds)

    # --- grid corrections -------------------------------------------------------------

    def _correct(self, grid: BeatGrid) -> None:
        self.practice.correct_grid(grid)

    def tap_tempo(self, now: float | None = None) -> None:
        """One tap (T) at the playhead; from the fourth tap on the grid follows the taps' tempo and phase."""
        now = time.monotonic() if now is None else now
        if self._taps and now - self._taps[-1][0] > TAP_RESET_SECONDS:
            self._taps = []
        self._taps.append((now, self.playhead))
        if len(self._taps) < TAPS_NEEDED:
            self.message.emit(f"Tap {len(self._taps)} of {TAPS_NEEDED}: keep tapping on the beat.", "info")
            return
        rate = self.transport.rate
        base = self.practice.grid or uniform_grid(120.0, self.transport.length / rate if rate else 0.0)
        song_times = [seconds for _, seconds in self._taps]
        if not self.transport.is_playing:
            # Stopped, the playhead does not move: the taps' clock times stand for song time.
            start = self._taps[0][1]
            song_times = [start + (clock - self._taps[0][0]) * self.practice.state.tempo for clock, _ in self._taps]
        try:
            self._correct(tap_tempo(base, song_times))
        except StemdeskError as error:
            self.message.emit(str(error), "warning")

    def mark_downbeat(self) -> None:
        """The beat nearest the playhead is beat 1 of its bar."""
        grid = self._need_grid()
        if grid is not None:
            self._correct(set_downbeat(grid, self.playhead))

    def scale_grid(self, factor: float) -> None:
        """Halve (0.5) or double (2.0) the grid's tempo."""
        grid = self._need_grid()
        if grid is not None:
            self._correct(halve_tempo(grid) if factor < 1 else double_tempo(grid))

    def shift_grid(self, seconds: float) -> None:
        """Move the whole grid by ``seconds`` (the grid dragged, or , and .)."""
        grid = self._need_grid()
        if grid is not None:
            self._correct(shift_grid(grid, seconds))


class SpeedTrainerDialog(QDialog):
    """Start tempo, target tempo and the step per loop pass; fires ``chosen`` (None: trainer off)."""

    chosen = Signal(object)

    def __init__(self, trainer: SpeedTrainer, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Speed trainer")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.start = self._percent(trainer.start)
        self.target = self._percent(trainer.target)
        self.step = QDoubleSpinBox()
        self.step.setRange(0.5, 50.0)
        self.step.setSuffix(" % per pass")
        self.step.setValue(trainer.step * 100)
        form = QFormLayout(self)
        form.addRow("Start at", self.start)
        form.addRow("Go up to", self.target)
        form.addRow("Step", self.step)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.on_button = buttons.addButton("Train", QDialogButtonBox.ButtonRole.AcceptRole)
        self.off_button = buttons.addButton("Trainer off", QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.off_button.clicked.connect(lambda: (self.chosen.emit(None), self.accept()))
        form.addRow(buttons)

    @staticmethod
    def _percent(tempo: float) -> QSpinBox:
        box = QSpinBox()
        box.setRange(round(MIN_TEMPO * 100), round(MAX_TEMPO * 100))
        box.setSingleStep(5)
        box.setSuffix(" %")
        box.setValue(round(tempo * 100))
        return box

    def trainer(self) -> SpeedTrainer:
        return SpeedTrainer(start=self.start.value() / 100, target=self.target.value() / 100,
                            step=self.step.value() / 100)

    def _accept(self) -> None:
        self.chosen.emit(self.trainer())
        self.accept()
