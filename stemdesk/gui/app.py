"""The entry point of the window: ``stemdesk``, ``stemdesk SONG``, ``stemdesk --demo``."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from stemdesk import PROJECT_ROOT

from stemdesk.gui.main_window import APP_NAME, MainWindow
from stemdesk.gui.theme import apply_theme


DESKTOP_ID = "io.github.stemdesk.Stemdesk"
ICON = PROJECT_ROOT / "resources" / "icons" / "hicolor" / "256x256" / "apps" / f"{DESKTOP_ID}.png"


def _freeze_long_lived_objects() -> None:
    """Take what exists now (modules, classes, the window) out of the garbage collector's sight.

    It lives as long as the process anyway. Tracing its ~70,000 objects made
    each full collection stall every thread for about 70 ms, enough to freeze
    the event loop visibly while a separation runs; frozen, a full collection
    takes about a millisecond.
    """
    gc.collect()
    gc.freeze()


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (made once per process), named and themed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1] if argv is None else argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    # Lets Wayland desktops match the window to its menu entry and icon.
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(QIcon(str(ICON)))
    apply_theme(app)
    _freeze_long_lived_objects()
    return app


def run_app(song: Path | None) -> int:
    """Show the window, open ``song`` if given, and run until the window closes."""
    app = create_application()
    window = MainWindow(QSettings(APP_NAME, APP_NAME))
    window.show()
    # The model opens while the musician looks for a song, not after the drop.
    window.queue.prepare()
    _freeze_long_lived_objects()
    if song is not None:
        window.open_song(song)
    return app.exec()
