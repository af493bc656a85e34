"""A message strip inside the window: errors and notices that never block.

Unlike a modal dialog it lets the musician (and tests) go on working; an
error stays until it is closed or replaced, a notice fades after a while
unless it offers an action (a question waits for its answer).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from stemdesk.gui import theme

_LEVEL_COLOURS = {"info": theme.ACCENT, "warning": theme.WARNING, "error": theme.ERROR}
_LEVEL_ICONS = {"info": "ℹ", "warning": "⚠", "error": "✖"}
# A notice without an action stays this long; anything else stays until dismissed.
_INFO_MS = 10_000


class MessageBanner(QFrame):
    """One message at a time with an optional action button and a close button.

    Signals:
        shown(level, text): a message appeared ("info", "warning" or "error").
    """

    shown = Signal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.level = ""
        self._icon = QLabel()
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.action_button.clicked.connect(self._run_action)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self._action: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    @property
    def text(self) -> str:
        return self._text.text()

    def show_message(
        self, text: str, level: str = "info", action: tuple[str, Callable[[], None]] | None = None
    ) -> None:
        """Show ``text``; ``action`` is a (button label, callback) pair."""
        colour = _LEVEL_COLOURS[level]
        self.level = level
        self._icon.setText(_LEVEL_ICONS[level])
        self._icon.setStyleSheet(f"color: {colour}; font-size: 14pt;")
        self._text.setText(text)
        self.setStyleSheet(
            f"MessageBanner {{ background: {theme.RAISED}; border: 1px solid {colour};"
            f" border-left: 4px solid {colour}; border-radius: 4px; }}"
        )
        self._action = action[1] if action else None
        self.action_button.setVisible(action is not None)
        if action:
            self.action_button.setText(action[0])
        self.show()
        if level == "info" and action is None:
            self._timer.start(_INFO_MS)
        else:
            self._timer.stop()
        self.shown.emit(level, text)

    def dismiss(self) -> None:
        self._timer.stop()
        self.level = ""
        self.hide()

    def _run_action(self) -> None:
        action = self._action
        self.dismiss()
        if action is not None:
            action()
