"""The beat grid of the song on screen, found on a worker thread after the song appears.

Playing starts at once; the grid is drawn when the analysis is done (a few
seconds for a song of four minutes). Only the newest request's result is
reported: a grid for a song no longer on screen is dropped.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from stemdesk.analysis.beats import analyse_beats
from stemdesk.gui.separation_queue import LoadedSong
from stemdesk.gui.worker import Worker


class GridAnalysis(QObject):
    """Finds songs' beat grids in the background, one song at a time.

    Signals:
        ready(identity, BeatGrid): the grid of the song ``identity``.
        failed(message): the analysis could not run.
    """

    ready = Signal(str, object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # The analysis cannot be stopped midway; an old one runs out and is ignored.
        self._running: list[Worker] = []
        self._wanted = ""

    def analyse(self, loaded: LoadedSong) -> None:
        """Find ``loaded``'s grid from its mixture and stems (the drums and bass help where there are some)."""
        self._wanted = loaded.identity
        session = loaded.session
        worker = Worker(lambda progress, cancel: analyse_beats(session.mixture, session.stems), "Beat analysis")
        identity = loaded.identity
        worker.succeeded.connect(lambda grid: self._report(identity, grid))
        worker.failed.connect(self.failed)
        worker.finished.connect(lambda: self._release(worker))
        self._running.append(worker)
        worker.start()

    def wait(self) -> None:
        """Block until every running analysis ends (for shutdown)."""
        for worker in list(self._running):
            worker.wait()

    def _report(self, identity: str, grid) -> None:
        if identity == self._wanted:
            self.ready.emit(identity, grid)

    def _release(self, worker: Worker) -> None:
        if worker in self._running:
            self._running.remove(worker)
        worker.deleteLater()
