"""The beat grid and the stems' activity of the song on screen, found on a worker thread.

Playing starts at once; the grid and the activity lanes are drawn when the
analysis is done (a second or two for a song of four minutes, instant when
:func:`~stemdesk.analysis.song_grid` finds it cached or corrected). Only the
newest request's result is reported: a result for a song no longer on screen
is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from stemdesk.analysis import BeatGrid, song_grid, stem_activity
from stemdesk.gui.separation_queue import LoadedSong
from stemdesk.gui.worker import Worker


@dataclass(frozen=True)
class SongAnalysis:
    """What the analysis found for one song.

    grid: its beat grid; corrected: whether that is the musician's own correction.
    activity: for each stem, the ``(start, end)`` seconds in which it is audible.
    """

    grid: BeatGrid
    corrected: bool
    activity: dict[str, list[tuple[float, float]]]


class GridAnalysis(QObject):
    """Finds songs' beat grids and stem activity in the background.

    Args:
        grid_root: where corrected grids are kept (None: the user's data folder).

    Signals:
        ready(identity, SongAnalysis): the analysis of the song ``identity``.
        failed(message): the analysis could not run.
    """

    ready = Signal(str, object)
    failed = Signal(str)

    def __init__(self, grid_root: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.grid_root = grid_root
        # An analysis cannot be stopped midway; an old one runs out and is ignored.
        self._running: list[Worker] = []
        self._wanted = ""

    def analyse(self, loaded: LoadedSong) -> None:
        """Analyse ``loaded`` from its mixture and stems (a model's drums and bass help the downbeats)."""
        self._wanted = identity = loaded.identity
        session = loaded.session
        grid_root = self.grid_root

        def job(progress, cancel) -> SongAnalysis:
            grid, corrected = song_grid(session.mixture, session.stems, source=session.card.sha256,
                                        grid_root=grid_root)
            return SongAnalysis(grid, corrected, stem_activity(session.stems))

        worker = Worker(job, "Beat analysis")
        worker.succeeded.connect(lambda analysis: self._report(identity, analysis))
        worker.failed.connect(self.failed)
        worker.finished.connect(lambda: self._release(worker))
        self._running.append(worker)
        worker.start()

    def wait(self) -> None:
        """Block until every running analysis ends (for shutdown)."""
        for worker in list(self._running):
            worker.wait()

    def _report(self, identity: str, analysis: SongAnalysis) -> None:
        if identity == self._wanted:
            self.ready.emit(identity, analysis)

    def _release(self, worker: Worker) -> None:
        if worker in self._running:
            self._running.remove(worker)
        worker.deleteLater()
