"""The window's Export: the dialog, one export at a time, its progress and its outcome.

The dialog (:mod:`stemdesk.gui.export_dialog`) builds a request, the runner
(:mod:`stemdesk.gui.exporting`) writes it on a worker thread; this object
starts the runner on the song on screen, shows its progress in the status bar
and says in the banner what was written or why not (``message``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QProgressBar, QStatusBar, QWidget

from stemdesk.gui.export_dialog import ExportDialog
from stemdesk.gui.exporting import ExportRequest, ExportRunner
from stemdesk.gui.mixer_model import MixerModel
from stemdesk.gui.preferences import Preferences
from stemdesk.gui.separation_queue import LoadedSong
from stemdesk.headroom import WrittenFiles


class ExportController(QObject):
    """Exports the song on screen with the mixer's state, one export at a time.

    Args:
        status_bar: where the progress bar and "Exporting…" go.
        mixer_model: the stems to choose from and the mix a "mix" export writes.
        song: the song on screen now, or None (the window owns it).
        preferences: the window's preferences now (the last export's choice).
        window: the parent of the Export dialog.

    Signals:
        finished(list): the paths an export wrote.
        failed(str): why an export failed.
        remembered(dict): preference fields to keep, so that the next export starts from this one.
        message(text, level, action): for the window's banner; ``action`` is a
            ``(label, callable)`` button or None.
        dialog_opened(QDialog): the Export dialog is open; the window keeps it until closed.
    """

    finished = Signal(list)
    failed = Signal(str)
    remembered = Signal(dict)
    message = Signal(str, str, object)
    dialog_opened = Signal(object)

    def __init__(self, status_bar: QStatusBar, mixer_model: MixerModel, song: Callable[[], LoadedSong | None],
                 preferences: Callable[[], Preferences], window: QWidget):
        super().__init__(window)
        self.mixer_model = mixer_model
        self._status_bar = status_bar
        self._song = song
        self._preferences = preferences
        self._window = window
        self.runner = ExportRunner(self)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("export %v/%m")
        self.progress.hide()
        status_bar.addPermanentWidget(self.progress)
        self.runner.started.connect(self._on_started)
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)

    def show_dialog(self) -> ExportDialog | None:
        """The Export dialog, opened with the last export's choice; None with no song on screen."""
        if self._song() is None:
            return None
        preferences = self._preferences()
        chosen = tuple(name for name in preferences.export_stems.split(",") if name)
        dialog = ExportDialog(
            self.mixer_model.stems, preferences.export_format, Path(preferences.export_folder), self._window,
            kind=preferences.export_kind, chosen=chosen,
        )
        dialog.export_requested.connect(self.export)
        self.dialog_opened.emit(dialog)
        return dialog

    def export(self, request: ExportRequest) -> bool:
        """Start writing ``request`` on a worker thread; False if it cannot start now."""
        song = self._song()
        if song is None:
            self.message.emit("Open a song before exporting.", "info", None)
            return False
        if not self.runner.run(request, song.session, self.mixer_model.state):
            self.message.emit("An export is still running; try again when it is done.", "info", None)
            return False
        # The next export starts from this one: same folder, format and choice.
        self.remembered.emit({
            "export_folder": str(request.folder), "export_format": request.export_format,
            "export_kind": request.kind, "export_stems": ",".join(request.stems),
        })
        return True

    def wait(self) -> None:
        """Block until the export threads have ended (for shutdown)."""
        self.runner.wait()

    def _on_started(self, description: str) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self._status_bar.showMessage(f"Exporting {description}…")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_done(self, request: ExportRequest, written: WrittenFiles) -> None:
        self.progress.hide()
        paths = written.paths
        folder = paths[0].parent if paths else request.folder
        names = ", ".join(path.name for path in paths)
        note = written.gain_note()
        self.message.emit(
            f"Exported {request.describe()}: {names} in {folder}" + (f", {note}." if note else "."),
            "warning" if note else "info",
            ("Show folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))),
        )
        self.finished.emit(paths)

    def _on_failed(self, message: str) -> None:
        self.progress.hide()
        self.message.emit(f"Export failed: {message}", "error", None)
        self.failed.emit(message)
