"""Informative panels of the window: the drop hint, the song's card, the keyboard card."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stemdesk.audio import SUPPORTED_SUFFIXES
from stemdesk.gui import theme
from stemdesk.gui.separation_queue import LoadedSong
from stemdesk.gui.song_views import format_time


class DropHint(QFrame):
    """What the window shows before the first song: how to open one.

    Signals:
        demo_requested(): the "Try the demo song" button was pressed.
    """

    demo_requested = Signal()
    _COMMON_FORMATS = (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus", ".aiff")

    def __init__(self, demo_available: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dropHint")
        self.setStyleSheet(
            f"QFrame#dropHint {{ border: 2px dashed {theme.BORDER}; border-radius: 12px; background: {theme.PANEL}; }}"
        )
        readable = [suffix for suffix in self._COMMON_FORMATS if suffix in SUPPORTED_SUFFIXES]
        formats = ", ".join(suffix.lstrip(".").upper() for suffix in readable)
        title = QLabel("Drop a song here")
        title.setStyleSheet(f"font-size: 20pt; color: {theme.TEXT};")
        details = QLabel(f"or choose File ▸ Open… (Ctrl+O)\n{formats} and the audio of video files")
        details.setObjectName("dim")
        self.demo_button = QPushButton("Try the demo song")
        self.demo_button.setToolTip("An 11-second excerpt of real music, shipped with stemdesk")
        self.demo_button.setVisible(demo_available)
        self.demo_button.clicked.connect(self.demo_requested)
        layout = QVBoxLayout(self)
        layout.addStretch()
        for widget in (title, details):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(widget)
        layout.addSpacing(12)
        layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch()


class SongCard(QFrame):
    """The open song's facts and the Export button, beside the mixer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.setMinimumWidth(190)
        self.title = QLabel("No song")
        self.title.setObjectName("stripName")
        self.title.setWordWrap(True)
        self.details = QLabel("")
        self.details.setObjectName("dim")
        self.details.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write stems, a practice track without one stem, or the current mix (Ctrl+E)")
        self.export_button.setEnabled(False)
        self.export_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.details)
        layout.addStretch()
        layout.addWidget(self.export_button)

    def show_song(self, loaded: LoadedSong, device: str) -> None:
        session = loaded.session
        mixture = session.mixture
        channels = {1: "mono", 2: "stereo"}.get(mixture.channels, f"{mixture.channels} channels")
        self.title.setText(session.path.name)
        self.title.setToolTip(str(session.path))
        source = "from the stem cache" if session.from_cache else f"separated on {device}"
        self.details.setText(
            f"{format_time(mixture.duration, 1)} · {mixture.rate / 1000:g} kHz · {channels}<br>"
            f"{session.card.name}<br>model {session.card.id} {session.card.version}<br>{source}"
        )
        self.export_button.setEnabled(True)


class ShortcutCard(QFrame):
    """The keyboard shortcuts a musician uses while playing along."""

    KEYS = (
        ("Space", "play / pause"),
        ("← →", "seek (Shift: 1 s)"),
        ("Home", "to the start"),
        ("1…9", "select a stem"),
        ("M S", "mute / solo it"),
        ("L", "loop on / off"),
        ("drag", "loop (Alt: free)"),
        ("⇧L", "loop this bar"),
        ("Alt ← →", "loop a bar on"),
        ("[ ]", "tempo −/+ 5 %"),
        ("⇧↑ ↓", "transpose"),
        ("C", "click on / off"),
        ("K", "count-in bars"),
        ("B", "snap to grid"),
        ("T", "tap tempo"),
        ("Ctrl+1", "this is beat 1"),
    )
    #: Keys per column: the card is two columns wide, short enough for a 720-px window.
    ROWS = 8

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        grid.setVerticalSpacing(3)
        title = QLabel("Keys")
        title.setObjectName("stripName")
        grid.addWidget(title, 0, 0, 1, 4)
        for index, (key, meaning) in enumerate(self.KEYS):
            row, column = index % self.ROWS + 1, 2 * (index // self.ROWS)
            cap = QLabel(key)
            cap.setStyleSheet(
                f"background: {theme.RAISED}; border: 1px solid {theme.BORDER}; border-radius: 3px;"
                " padding: 0 5px; font-family: monospace;"
            )
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = QLabel(meaning)
            text.setObjectName("dim")
            grid.addWidget(cap, row, column)
            grid.addWidget(text, row, column + 1)
        grid.setRowStretch(self.ROWS + 1, 1)
