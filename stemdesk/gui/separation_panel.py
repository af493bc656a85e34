"""The strip that shows a running separation: song, device, progress, time left, Cancel."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from stemdesk.gui.separation_queue import SeparationQueue


def describe_time_left(seconds: float) -> str:
    """``about 12 s left``, ``about 3 min left``; empty while unknown (negative)."""
    if seconds < 0:
        return ""
    if seconds < 1:
        return "almost done"
    if seconds < 90:
        return f"about {math.ceil(seconds)} s left"
    return f"about {math.ceil(seconds / 60)} min left"


class SeparationPanel(QFrame):
    """A view of a :class:`SeparationQueue`; visible only while it works."""

    def __init__(self, queue: SeparationQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.setObjectName("panel")
        self.title = QLabel()
        self.device = QLabel()
        self.device.setObjectName("dim")
        self.device.setToolTip("Where the separation network runs (set it in Preferences)")
        self.progress = QProgressBar()
        self.progress.setMinimumWidth(220)
        self.progress.setTextVisible(True)
        self.time_left = QLabel()
        self.time_left.setObjectName("dim")
        self.time_left.setMinimumWidth(120)
        self.waiting = QLabel()
        self.waiting.setObjectName("dim")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.setToolTip("Stop this separation (songs waiting after it still run)")
        self.cancel_button.clicked.connect(queue.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.device)
        layout.addStretch()
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.time_left)
        layout.addWidget(self.waiting)
        layout.addWidget(self.cancel_button)
        queue.started.connect(self._on_started)
        queue.device_ready.connect(self._on_device)
        queue.progressed.connect(self._on_progress)
        queue.queue_changed.connect(self._on_queue_changed)
        queue.idle.connect(self.hide)
        self.hide()

    def _on_started(self, path: Path) -> None:
        self.title.setText(f"Opening <b>{path.name}</b>")
        self.device.setText("")
        # Busy indicator until the separator reports its first chunk.
        self.progress.setRange(0, 0)
        self.time_left.setText("")
        self.cancel_button.setEnabled(True)
        self._on_queue_changed()
        self.show()

    def _on_device(self, name: str) -> None:
        path = self.queue.current
        self.title.setText(f"Separating <b>{path.name if path else ''}</b>")
        self.device.setText(f"on {name}")

    def _on_progress(self, done: int, total: int, seconds_left: float, text: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(text)
        self.time_left.setText(describe_time_left(seconds_left))

    def _on_queue_changed(self) -> None:
        count = len(self.queue.waiting)
        self.waiting.setText(f"+{count} waiting" if count else "")
        self.waiting.setToolTip("\n".join(path.name for path in self.queue.waiting))
