"""The transport bar: back to start, play/pause, the clock, the A-B loop switch."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from stemdesk.gui.icons import pause_icon, play_icon, to_start_icon
from stemdesk.gui.song_views import format_time


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


class TransportBar(QFrame):
    """Buttons and readouts; the window connects them to the Transport and MixerModel.

    Signals:
        play_clicked(), to_start_clicked(), loop_clicked(on).
    """

    play_clicked = Signal()
    to_start_clicked = Signal()
    loop_clicked = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        self._play_icon, self._pause_icon = play_icon(), pause_icon()
        self.to_start = _button("", "Back to the start (Home)", icon=to_start_icon())
        self.play = _button("", "Play / pause (Space)", icon=self._play_icon)
        self.loop = _button("⟲ A-B", "Loop the span marked by dragging on the views (L)", checkable=True)
        self.clock = QLabel()
        self.clock.setObjectName("time")
        self.clock.setToolTip("Playhead / song length")
        self.loop_span = QLabel()
        self.loop_span.setObjectName("dim")
        self.hint = QLabel("Click: seek · drag: mark A-B loop · wheel: zoom · middle-drag: scroll")
        self.hint.setObjectName("dim")
        self.to_start.clicked.connect(self.to_start_clicked)
        self.play.clicked.connect(self.play_clicked)
        self.loop.clicked.connect(self.loop_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.to_start)
        layout.addWidget(self.play)
        layout.addWidget(self.loop)
        layout.addWidget(self.clock)
        layout.addWidget(self.loop_span)
        layout.addStretch()
        layout.addWidget(self.hint)
        self.show_time(0.0, 0.0)

    def show_time(self, seconds: float, duration: float) -> None:
        self.clock.setText(f"{format_time(seconds, 2)} / {format_time(duration, 2)}")

    def show_playing(self, playing: bool) -> None:
        self.play.setIcon(self._pause_icon if playing else self._play_icon)
        self.play.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def show_loop(self, span: tuple[float, float] | None, active: bool) -> None:
        self.loop.setChecked(active)
        if span is None:
            self.loop_span.setText("")
        else:
            self.loop_span.setText(f"A {format_time(span[0], 2)} – B {format_time(span[1], 2)}")
