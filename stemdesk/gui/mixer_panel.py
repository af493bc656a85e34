"""The mixer's channel strips: one per stem, plus the master strip of the mix.

Strips are views of a :class:`~stemdesk.gui.mixer_model.MixerModel`: moving a
fader or clicking M/S calls the model, and the strips redraw from the state
it fires back. Buttons and faders take no keyboard focus, so Space, M, S and
the number keys always reach the window's shortcuts.

Strips share the panel's width (between ``_MIN_STRIP_WIDTH`` and
``_MAX_STRIP_WIDTH``, so six stems, the master and the click fit a 1280-px
window) and the faders its height; a name too long for its strip is set in
a smaller font before it is shortened.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from stemdesk.gui import theme
from stemdesk.gui.mixer_model import MAX_DB, MIN_DB, MixerModel
from stemdesk.gui.practice_model import PracticeModel
from stemdesk.playback import MixerState
from stemdesk.practice import COUNT_IN_CHOICES, PracticeSetup

# The fader moves in tenths of a dB.
_STEPS_PER_DB = 10
_MIN_STRIP_WIDTH, _MAX_STRIP_WIDTH = 66, 118
_MIN_FADER_HEIGHT = 60
# A strip's name's point size, and the smallest it is shrunk to before it is elided.
_NAME_POINTS, _MIN_NAME_POINTS = 10.0, 7.0
#: How opaque a strip looks when its stem is silent (muted, or outside someone else's solo).
SILENCED_OPACITY = 0.4


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
        # Grows with the window: a taller fader is a finer one.
        self.setMinimumHeight(_MIN_FADER_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
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
    button.setFixedWidth(26)
    return button


class StripName(QLabel):
    """A strip's name in its colour: smaller type when it is tight, then shortened with "…"."""

    def __init__(self, text: str, colour: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.full_text = text
        self.colour = colour
        self.setObjectName("stripName")
        self.setToolTip(text)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(1)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        room = max(self.width() - 4, 1)
        font = QFont(self.font())
        font.setBold(True)
        size = _NAME_POINTS
        font.setPointSizeF(size)
        while size > _MIN_NAME_POINTS and QFontMetrics(font).horizontalAdvance(self.full_text) > room:
            size -= 0.5
            font.setPointSizeF(size)
        # The window's style sheet sets every widget's font size: only a style sheet overrides it.
        self.setStyleSheet(f"color: {self.colour}; font-size: {size:g}pt;")
        self.setText(QFontMetrics(font).elidedText(self.full_text, Qt.TextElideMode.ElideRight, room))


def _strip_frame(frame: QFrame) -> None:
    frame.setObjectName("panel")
    frame.setMinimumWidth(_MIN_STRIP_WIDTH)
    frame.setMaximumWidth(_MAX_STRIP_WIDTH)
    frame.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)


class StemStrip(QFrame):
    """One stem's strip: name, fader, level readout, mute and solo."""

    def __init__(self, model: MixerModel, name: str, index: int, colour: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.name = name
        self.colour = colour
        _strip_frame(self)
        self.setToolTip(f"{name}: click to select (key {index + 1}); its mask is drawn above")
        self._opacity = QGraphicsOpacityEffect(self)
        self._opacity.setOpacity(1.0)
        self.setGraphicsEffect(self._opacity)

        self.title = StripName(name.capitalize(), colour)
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
        switches.setSpacing(2)
        switches.addWidget(self.mute)
        switches.addWidget(self.solo)
        fader_row = QHBoxLayout()
        fader_row.addStretch()
        fader_row.addWidget(self.fader)
        fader_row.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 6)
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
        audible = state.audible(self.name)
        self.title.setEnabled(audible)
        self._opacity.setOpacity(1.0 if audible else SILENCED_OPACITY)

    @property
    def silenced(self) -> bool:
        """Whether the strip is drawn dimmed (its stem is not heard)."""
        return self._opacity.opacity() < 1.0

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
        _strip_frame(self)
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
        layout.setContentsMargins(4, 6, 4, 6)
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


class ClickStrip(QFrame):
    """The metronome's strip: level, on/off, and the count-in before playing (and each loop pass)."""

    def __init__(self, practice: PracticeModel, parent: QWidget | None = None):
        super().__init__(parent)
        _strip_frame(self)
        self.setToolTip("The click: a metronome on the beat grid, accented on each bar's first beat (C)")
        self.title = StripName("Click", theme.CLICK_COLOUR)
        self.fader = Fader()
        self.fader.setToolTip("Click level in dB (double-click: back to 0 dB)")
        self.fader.db_changed.connect(practice.set_click_db)
        self.level = QLabel()
        self.level.setObjectName("dim")
        self.level.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.count_in = QComboBox()
        self.count_in.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.count_in.setToolTip("Count-in before playing, at the current tempo (K)")
        for bars in COUNT_IN_CHOICES:
            self.count_in.addItem(f"{bars} bar" + ("s" if bars != 1 else "") if bars else "no count", bars)
        self.count_in.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.count_in.setMinimumContentsLength(4)
        self.count_in.activated.connect(lambda index: practice.set_count_in(self.count_in.itemData(index)))
        self.each_pass = QCheckBox("loop")
        self.each_pass.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.each_pass.setToolTip("Count in again before each pass of the loop")
        self.each_pass.toggled.connect(practice.set_count_in_each_pass)
        self.mute = _switch("M", "mute", "Click off (C turns it on and off)")
        self.mute.clicked.connect(lambda checked: practice.set_click(not checked))
        fader_row = QHBoxLayout()
        fader_row.addStretch()
        fader_row.addWidget(self.fader)
        fader_row.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.count_in)
        layout.addWidget(self.each_pass)
        layout.addLayout(fader_row, 1)
        layout.addWidget(self.level)
        layout.addWidget(self.mute, 0, Qt.AlignmentFlag.AlignHCenter)
        practice.state_changed.connect(self.show_state)
        self.show_state(practice.state)

    def show_state(self, state: PracticeSetup) -> None:
        self.fader.set_db(state.click_db)
        self.level.setText(format_db(state.click_db))
        self.mute.setChecked(not state.click)
        self.count_in.setCurrentIndex(COUNT_IN_CHOICES.index(state.count_in_bars))
        self.each_pass.blockSignals(True)
        self.each_pass.setChecked(state.count_in_each_pass)
        self.each_pass.blockSignals(False)


class MixerPanel(QWidget):
    """All strips of the open song, the master and the click; rebuilt when the model brings new stems."""

    def __init__(self, model: MixerModel, practice: PracticeModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.strips: dict[str, StemStrip] = {}
        self.master = MasterStrip(model)
        self.master.hide()
        self.click = ClickStrip(practice)
        self.click.hide()
        self.placeholder = QLabel("The stems' faders, mute and solo appear here once a song is separated.")
        self.placeholder.setObjectName("dim")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._layout.addWidget(self.placeholder)
        self._layout.addWidget(self.master)
        self._layout.addWidget(self.click)
        self._layout.addStretch()
        model.stems_changed.connect(self._rebuild)
        model.state_changed.connect(self._show_state)
        model.selection_changed.connect(self._show_selection)
        self.setEnabled(False)

    def _rebuild(self, stems: tuple[str, ...]) -> None:
        for strip in self.strips.values():
            strip.deleteLater()
        self.strips = {}
        colours = theme.stem_colours(stems)
        for index, name in enumerate(stems):
            strip = StemStrip(self.model, name, index, colours[name])
            self._layout.insertWidget(index, strip, 1)
            self.strips[name] = strip
        self.placeholder.setVisible(not stems)
        self.master.setVisible(bool(stems))
        self.click.setVisible(bool(stems))
        self.setEnabled(bool(stems))

    def _show_state(self, state: MixerState) -> None:
        for strip in self.strips.values():
            strip.show_state(state)
        self.master.show_state(state)

    def _show_selection(self, name: str) -> None:
        for strip_name, strip in self.strips.items():
            strip.set_selected(strip_name == name)
