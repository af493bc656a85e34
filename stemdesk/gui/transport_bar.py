"""The transport bar: back to start, play/pause, the clock, the A-B loop, tempo and transpose."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from stemdesk.gui.icons import pause_icon, play_icon, to_start_icon
from stemdesk.gui.song_views import format_time
from stemdesk.practice import MAX_TEMPO, MAX_TRANSPOSE, MIN_TEMPO, PracticeSetup


def _button(text: str, tooltip: str, checkable: bool = False, icon: QIcon | None = None) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    if icon is not None:
        button.setIcon(icon)
        button.setIconSize(QSize(20, 20))
    button.setObjectName("transport")
    button.setToolTip(tooltip)
    button.setCheckable(checkable)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


def _spin(box: QSpinBox | QDoubleSpinBox, tooltip: str) -> QSpinBox | QDoubleSpinBox:
    # No keyboard focus: [, ], Shift+Up/Down and Space stay the window's keys; the
    # arrows and the mouse wheel still change the value.
    box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    box.setToolTip(tooltip)
    box.setAccelerated(True)
    box.setKeyboardTracking(False)
    return box


class TransportBar(QFrame):
    """Buttons and readouts; the window connects them to the Transport and the practice model.

    Signals:
        play_clicked(), to_start_clicked(), loop_clicked(on), snap_clicked(on),
        trainer_clicked(), tempo_changed(factor), transpose_changed(semitones).
    """

    play_clicked = Signal()
    to_start_clicked = Signal()
    loop_clicked = Signal(bool)
    snap_clicked = Signal(bool)
    trainer_clicked = Signal()
    tempo_changed = Signal(float)
    transpose_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        self._play_icon, self._pause_icon = play_icon(), pause_icon()
        self.to_start = _button("", "Back to the start (Home)", icon=to_start_icon())
        self.play = _button("", "Play / pause (Space)", icon=self._play_icon)
        self.loop = _button("⟲ A-B", "Loop the span marked by dragging on the views (L)", checkable=True)
        self.snap = _button("Snap", "Snap loops to beats and bars (B; hold Alt while dragging to mark freely)",
                            checkable=True)
        self.tempo = _spin(QSpinBox(), "Tempo, pitch kept ([ and ]: 5 % slower or faster)")
        self.tempo.setRange(round(MIN_TEMPO * 100), round(MAX_TEMPO * 100))
        self.tempo.setSingleStep(5)
        self.tempo.setSuffix(" %")
        self.tempo.setPrefix("Tempo ")
        self.transpose = _spin(QDoubleSpinBox(), "Transpose in semitones, tempo kept (Shift+Up / Shift+Down)")
        self.transpose.setRange(-MAX_TRANSPOSE, MAX_TRANSPOSE)
        self.transpose.setDecimals(2)
        self.transpose.setSingleStep(1.0)
        self.transpose.setPrefix("Key ")
        self.transpose.setSuffix(" st")
        self.trainer = _button("Trainer", "Speed trainer: each pass of the loop a little faster", checkable=True)
        self.bpm = QLabel()
        self.bpm.setObjectName("dim")
        self.bpm.setToolTip("The grid's tempo at the playback tempo")
        self.clock = QLabel()
        self.clock.setObjectName("time")
        self.clock.setToolTip("Playhead / song length")
        self.loop_span = QLabel()
        self.loop_span.setObjectName("dim")
        self.hint = QLabel("Click: seek · drag: loop · wheel: zoom")
        self.hint.setObjectName("dim")
        # The first thing to give up room on a narrow window.
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setToolTip("Click: seek · drag: mark the A-B loop (Alt: off the grid) · wheel: zoom · middle-drag: scroll")
        self.to_start.clicked.connect(self.to_start_clicked)
        self.play.clicked.connect(self.play_clicked)
        self.loop.clicked.connect(self.loop_clicked)
        self.snap.clicked.connect(self.snap_clicked)
        self.trainer.clicked.connect(lambda: self.trainer_clicked.emit())
        self.tempo.valueChanged.connect(lambda percent: self.tempo_changed.emit(percent / 100))
        self.transpose.valueChanged.connect(self.transpose_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.to_start)
        layout.addWidget(self.play)
        layout.addWidget(self.loop)
        layout.addWidget(self.snap)
        layout.addWidget(self.clock)
        layout.addWidget(self.loop_span)
        layout.addStretch()
        layout.addWidget(self.hint)
        layout.addWidget(self.bpm)
        layout.addWidget(self.tempo)
        layout.addWidget(self.transpose)
        layout.addWidget(self.trainer)
        self.show_time(0.0, 0.0)

    def show_time(self, seconds: float, duration: float) -> None:
        self.clock.setText(f"{format_time(seconds, 2)} / {format_time(duration, 2)}")

    def show_playing(self, playing: bool) -> None:
        self.play.setIcon(self._pause_icon if playing else self._play_icon)
        self.play.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def show_practice(self, state: PracticeSetup, bars: str = "") -> None:
        """Show ``state``'s loop, snap, tempo, transpose and trainer; ``bars`` names the loop's bars."""
        self.loop.setChecked(state.looping)
        self.snap.setChecked(state.snap)
        self.trainer.setChecked(state.trainer is not None)
        if state.loop is None:
            self.loop_span.setText("")
        else:
            start, end = state.loop
            self.loop_span.setText(f"{bars + ' · ' if bars else ''}A {format_time(start, 2)} – B {format_time(end, 2)}")
        for box, value in ((self.tempo, round(state.tempo * 100)), (self.transpose, state.transpose)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def show_bpm(self, bpm: float, tempo: float) -> None:
        """The grid's tempo as played (``bpm`` of the recording times ``tempo``); blank without a grid."""
        self.bpm.setText(f"{bpm * tempo:.1f} bpm" if bpm > 0 else "")
