"""The mixer's channel strips: one per stem, plus the master strip of the mix.

Strips are views of a :class:`~stemdesk.gui.mixer_model.MixerModel`: moving a
fader or clicking M/S calls the model, and the strips redraw from the state
it fires back. Buttons and faders take no keyboard focus, so Space, M, S and
the number keys always reach the window's shortcuts.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from stemdesk.gui import theme
from stemdesk.gui.mixer_model import MAX_DB, MIN_DB, MixerModel
from stemdesk.playback import MixerState

# The fader moves in tenths of a dB.
_STEPS_PER_DB = 10
_STRIP_WIDTH = 118


def format_db(db: float) -> str:
    """``-6.0 dB``, ``+3.5 dB``, ``-∞ dB``."""
    if math.isinf(db):
        return "-∞ dB"
    return f"{db:+.1f} dB" if db else "0.0 dB"


class Fader(QSlider):
    """A vertical fader in dB, from MIN_DB (silence) to MAX_DB; double-click resets to 0 dB."""

    db_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setRange(int(MIN_DB * _STEPS_PER_DB), int(MAX_DB * _STEPS_PER_DB))
        self.setValue(0)
        self.setPageStep(3 * _STEPS_PER_DB)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setTickPosition(QSlider.TickPosition.TicksBothSides)
        self.setTickInterval(6 * _STEPS_PER_DB)
        self.setMinimumHeight(110)
        self.valueChanged.connect(lambda steps: self.db_changed.emit(self.db))
        self.setToolTip("Level in dB (double-click: back to 0 dB)")

    @property
    def db(self) -> float:
        value = self.value() / _STEPS_PER_DB
        return float("-inf") if value <= MIN_DB else value

    def set_db(self, db: float) -> None:
        """Move the fader without firing ``db_changed``."""
        steps = self.minimum() if math.isinf(db) else round(db * _STEPS_PER_DB)
        self.blockSignals(True)
        self.setValue(steps)
        self.blockSignals(False)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.setValue(0)


def _switch(text: str, object_name: str, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setObjectName(object_name)
    button.setCheckable(True)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setToolTip(tooltip)
    button.setFixedWidth(30)
    return button


class StemStrip(QFrame):
    """One stem's strip: name, fader, level readout, mute and solo."""

    def __init__(self, model: MixerModel, name: str, index: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.name = name
        self.colour = theme.stem_colour(name, index)
        self.setObjectName("panel")
        self.setFixedWidth(_STRIP_WIDTH)
        self.setToolTip(f"{name}: click to select (key {index + 1}); its mask is drawn above")

        self.title = QLabel()
        self.title.setObjectName("stripName")
        bold = QFont(self.title.font())
        bold.setBold(True)
        elided = QFontMetrics(bold).elidedText(name.capitalize(), Qt.TextElideMode.ElideRight, _STRIP_WIDTH - 20)
        self.title.setText(elided)
        self.title.setToolTip(name)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet(f"color: {self.colour};")
        key = QLabel(str(index + 1) if index < 9 else "")
        key.setObjectName("dim")
        key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fader = Fader()
        self.fader.db_changed.connect(lambda db: model.set_gain(name, db))
        self.level = QLabel(format_db(0.0))
        self.level.setObjectName("dim")
        self.level.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mute = _switch("M", "mute", f"Mute {name} (M when selected)")
        self.solo = _switch("S", "solo", f"Solo {name}: only soloed stems play (S when selected)")
        self.mute.clicked.connect(lambda checked: model.set_mute(name, checked))
        self.solo.clicked.connect(lambda checked: model.set_solo(name, checked))

        switches = QHBoxLayout()
        switches.addWidget(self.mute)
        switches.addWidget(self.solo)
        fader_row = QHBoxLayout()
        fader_row.addStretch()
        fader_row.addWidget(self.fader)
        fader_row.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(key)
        layout.addLayout(fader_row, 1)
        layout.addWidget(self.level)
        layout.addLayout(switches)
        self.set_selected(False)

    def show_state(self, state: MixerState) -> None:
        control = state.controls[self.name]
        self.fader.set_db(control.gain_db)
        self.level.setText(format_db(control.gain_db))
        self.mute.setChecked(control.mute)
        self.solo.setChecked(control.solo)
        # A stem silenced by someone else's solo (or its own mute) looks switched off.
        self.title.setEnabled(state.audible(self.name))

    def set_selected(self, selected: bool) -> None:
        border = self.colour if selected else theme.BORDER
        background = theme.RAISED if selected else theme.PANEL
        self.setStyleSheet(
            f"QFrame#panel {{ border: 2px solid {border}; background: {background}; border-radius: 6px; }}"
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.model.select(self.name)
        super().mousePressEvent(event)


class MasterStrip(QFrame):
    """The master fader: the level of the whole mix."""

    def __init__(self, model: MixerModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.setFixedWidth(_STRIP_WIDTH)
        self.setToolTip("Master: the level of the whole mix (playback and 'current mix' export)")
        title = QLabel("Mix")
        title.setObjectName("stripName")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        subtitle = QLabel("master")
        subtitle.setObjectName("dim")
        subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fader = Fader()
        self.fader.db_changed.connect(model.set_master)
        self.level = QLabel(format_db(0.0))
        self.level.setObjectName("dim")
        self.level.setAlignment(Qt.AlignmentFlag.AlignCenter)
        fader_row = QHBoxLayout()
        fader_row.addStretch()
        fader_row.addWidget(self.fader)
        fader_row.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(fader_row, 1)
        layout.addWidget(self.level)
        # Lines up with the stems' M/S row.
        layout.addSpacing(_switch("M", "mute", "").sizeHint().height())

    def show_state(self, state: MixerState) -> None:
        self.fader.set_db(state.master_db)
        self.level.setText(format_db(state.master_db))


class MixerPanel(QWidget):
    """All strips of the open song; rebuilt when the model brings new stems."""

    def __init__(self, model: MixerModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.strips: dict[str, StemStrip] = {}
        self.master = MasterStrip(model)
        self.master.hide()
        self.placeholder = QLabel("The stems' faders, mute and solo appear here once a song is separated.")
        self.placeholder.setObjectName("dim")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addWidget(self.placeholder)
        self._layout.addWidget(self.master)
        self._layout.addStretch()
        model.stems_changed.connect(self._rebuild)
        model.state_changed.connect(self._show_state)
        model.selection_changed.connect(self._show_selection)
        self.setEnabled(False)

    def _rebuild(self, stems: tuple[str, ...]) -> None:
        for strip in self.strips.values():
            strip.deleteLater()
        self.strips = {}
        for index, name in enumerate(stems):
            strip = StemStrip(self.model, name, index)
            self._layout.insertWidget(index, strip)
            self.strips[name] = strip
        self.placeholder.setVisible(not stems)
        self.master.setVisible(bool(stems))
        self.setEnabled(bool(stems))

    def _show_state(self, state: MixerState) -> None:
        for strip in self.strips.values():
            strip.show_state(state)
        self.master.show_state(state)

    def _show_selection(self, name: str) -> None:
        for strip_name, strip in self.strips.items():
            strip.set_selected(strip_name == name)
