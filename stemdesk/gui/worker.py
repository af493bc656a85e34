"""Run a core job on a thread of its own and report back through signals.

A job is a plain function ``job(progress, cancel) -> result`` written against
the core's callbacks (``progress(done, total)``, a
:class:`~stemdesk.chunking.CancelToken`). The worker hands it a ``progress``
that emits a signal, so the GUI thread hears about every step without the
job knowing Qt, and the event loop keeps running while the job computes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import suppress

from PySide6.QtCore import QObject, QThread, Signal

from stemdesk.chunking import Cancelled, CancelToken, Progress
from stemdesk.errors import StemdeskError

log = logging.getLogger(__name__)

Job = Callable[[Progress, CancelToken], object]

#: Niceness of a worker thread (Linux): the GUI thread always gets a core first.
BACKGROUND_NICE = 10


def _lower_this_threads_priority() -> None:
    """Let the GUI thread win the CPU over this thread and the threads it starts.

    On a two-core machine ONNX Runtime's thread pool would otherwise keep both
    cores busy and the event loop would wait for a time slice. Linux gives
    each thread its own niceness, inherited by the threads it creates (ONNX
    Runtime makes its pool on the thread that loads the model); elsewhere
    QThread's own priority (see :meth:`Worker.start`) does the job.
    """
    if sys.platform.startswith("linux"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class Worker(QThread):
    """One run of ``job`` on its own thread.

    Signals (delivered in the GUI thread, since the worker object lives there):
        progressed(done, total): from the job's progress callback.
        succeeded(result): the job returned ``result``.
        failed(message): a one-line message for the window; a StemdeskError's
            own text, or a short description of an unexpected error (whose
            traceback goes to the log).
        cancelled(): the job stopped because :meth:`cancel` was called.
    Exactly one of the last three fires, then QThread's ``finished``.
    """

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, job: Job, description: str, parent: QObject | None = None):
        super().__init__(parent)
        self._job = job
        self.description = description
        self.token = CancelToken()

    def cancel(self) -> None:
        """Ask the job to stop at its next check (between chunks or files)."""
        self.token.cancel()

    def start(self, priority: QThread.Priority = QThread.Priority.LowPriority) -> None:
        """Start the job on its thread, below the GUI thread's priority."""
        super().start(priority)

    def run(self) -> None:
        _lower_this_threads_priority()
        try:
            result = self._job(self.progressed.emit, self.token)
        except Cancelled:
            self.cancelled.emit()
        except StemdeskError as error:
            self.failed.emit(str(error))
        except MemoryError:
            self.failed.emit(f"{self.description} failed: not enough memory.")
        except Exception as error:  # the window must survive any bug in a job
            log.exception("%s failed", self.description)
            self.failed.emit(f"{self.description} failed: {type(error).__name__}: {error}".splitlines()[0])
        else:
            # A cancel that came after the last check is too late: the work is done and kept.
            self.succeeded.emit(result)
