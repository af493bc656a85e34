"""Songs waiting for separation, one separated at a time on a worker thread.

The queue is the model behind the progress panel: it fires signals, the
panel and the window subscribe. A song asked for while another one is being
separated waits its turn; nothing asked for is dropped. Each job decodes the
file, takes the stems from the disk cache or separates them, and computes
the display picture too, so that the GUI thread only has to draw.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

# Loaded now, on the GUI thread while the window is being built: importing it
# maps a large library while holding the GIL, which inside the first job would
# freeze the event loop for a tenth of a second.
import onnxruntime  # noqa: F401
from PySide6.QtCore import QObject, Signal

from stemdesk.audio import Audio, decode_warnings
from stemdesk.chunking import Cancelled, CancelToken, Progress
from stemdesk.display import SongPicture, song_picture
from stemdesk.growing_stems import GrowingStems
from stemdesk.gui.worker import Worker
from stemdesk.catalogue import Catalogue
from stemdesk.separators import StemSeparator
from stemdesk.session import SongSession, decode_song, separate_song
from stemdesk.analysis.store import song_key
from stemdesk.stem_cache import StemCache


@dataclass(frozen=True, eq=False)
class LoadedSong:
    """A separated song, what the views draw of it, and its identity (:func:`~stemdesk.analysis.store.song_key`:
    the song's own data, its practice set-up and beat grid, is kept under it).

    ``growing`` is set while the song is still being separated: its stems
    are then views of that buffer, final up to its frontier.
    """

    session: SongSession
    picture: SongPicture
    identity: str
    #: What decoding warned about (the file ends early...), one line each.
    warnings: tuple[str, ...] = ()
    growing: GrowingStems | None = None


class TimeLeft:
    """Seconds left of a job whose pace changes, smoothed so that the readout does not jump.

    The pace is the work done per second over roughly the last ``memory``
    seconds (an exponentially weighted rate), so a preset that goes from a
    fast model to a slow one is caught up with quickly. The shown value
    counts down with the clock and moves toward what that pace predicts by
    ``1 - exp(-dt / settle)`` per update: corrections come as a ramp over a
    few seconds, never as one step.
    """

    def __init__(self, settle: float = 2.0, memory: float = 2.0):
        self.settle, self.memory = settle, memory
        self._shown: float | None = None
        self._rate = 0.0
        self._last = (0.0, 0)
        self._at = 0.0

    def update(self, now: float, elapsed: float, done: int, total: int) -> float | None:
        """The seconds to show at clock time ``now``, ``elapsed`` s into the job; None while unknown."""
        if done <= 0 or total <= 0:
            return None
        if self._shown is None:
            self._rate = done / max(elapsed, 1e-9)
        else:
            then, done_then = self._last
            dt = now - then
            if dt > 0:
                self._rate += ((done - done_then) / dt - self._rate) * (1.0 - math.exp(-dt / self.memory))
        self._last = (now, done)
        predicted = max(total - done, 0) / max(self._rate, 1e-12)
        if self._shown is None:
            self._shown, self._at = predicted, now
            return predicted
        dt = max(now - self._at, 0.0)
        counted_down = max(self._shown - dt, 0.0)
        self._shown = counted_down + (predicted - counted_down) * (1.0 - math.exp(-dt / self.settle))
        self._at = now
        return self._shown


def describe_progress(done: int, total: int, stages: tuple[str, ...] = ()) -> str:
    """What the progress bar says: ``42 %``, or ``step 2 of 5 · drums · 42 %`` for a preset.

    ``stages`` are the names of a preset's steps, each an equal share of ``total``.
    """
    percent = f"{100 * done // max(total, 1)} %"
    if len(stages) < 2:
        return percent
    index = min(done * len(stages) // max(total, 1), len(stages) - 1)
    return f"step {index + 1} of {len(stages)} · {stages[index]} · {percent}"


class SeparationQueue(QObject):
    """Separates the songs it is given, in order, one at a time.

    Args:
        repo: where the model is looked up.
        model_id: the model or preset to separate with; changeable with :meth:`set_model`.
        cache: the disk cache of finished separations.
        device: "auto", "cpu" or "gpu"; changeable with :meth:`set_device`.

    Signals:
        started(path): a song's job began.
        device_ready(name): the separator runs on ``name`` ("CPU" or a GPU's name).
        progressed(done, total, seconds_left, text): after each chunk; seconds_left
            is negative while unknown, text says it in words (:func:`describe_progress`).
        song_growing(LoadedSong): a song's first chunk is separated; its stems
            (``growing`` set) fill in as the separation goes on. Not sent for
            a cache hit or a separator that does not hand out spans.
        song_ready(LoadedSong): a song is separated (or came from the cache).
        failed(path, message): a song could not be opened or separated.
        cancelled(path): the running song was cancelled.
        queue_changed(): songs were added or taken from the waiting list.
        idle(): nothing runs and nothing waits.
    """

    started = Signal(Path)
    device_ready = Signal(str)
    progressed = Signal(int, int, float, str)
    song_growing = Signal(object)
    song_ready = Signal(object)
    failed = Signal(Path, str)
    cancelled = Signal(Path)
    queue_changed = Signal()
    idle = Signal()

    def __init__(
        self,
        repo: Catalogue,
        model_id: str,
        cache: StemCache,
        device: str = "auto",
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.repo = repo
        self.model_id = model_id
        self.cache = cache
        self._device = device
        self._waiting: deque[Path] = deque()
        self._worker: Worker | None = None
        self._current: Path | None = None
        # The separator of the last (model, device), made on the worker thread
        # (loading a model takes a second) and kept: only one job runs at a time.
        self._separators: dict[tuple[str, str], StemSeparator] = {}
        # The separator being opened ahead of the first song (see prepare):
        # (model, device), its future and the thread opening it.
        self._prepared: tuple[tuple[str, str], Future, Worker] | None = None
        self._separating_since: float | None = None
        self._time_left = TimeLeft()
        self._stages: tuple[str, ...] = ()

    @property
    def current(self) -> Path | None:
        """The song being worked on, if any."""
        return self._current

    @property
    def waiting(self) -> list[Path]:
        """Songs queued behind the current one, in order."""
        return list(self._waiting)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def set_device(self, device: str) -> None:
        """Separate later songs on ``device`` ("auto", "cpu" or "gpu")."""
        self._device = device

    def set_model(self, model_id: str) -> None:
        """Separate later songs with model or preset ``model_id``."""
        self.model_id = model_id

    def add(self, path: Path) -> bool:
        """Queue ``path``; start it at once when nothing runs.

        Returns False (and queues nothing) when that song is already running
        or waiting.
        """
        path = Path(path)
        if path == self._current or path in self._waiting:
            return False
        self._waiting.append(path)
        self.queue_changed.emit()
        if self._worker is None:
            self._start_next()
        return True

    def resubmit(self, path: Path) -> None:
        """Separate ``path`` again next (with the model set now), stopping its running job if any."""
        path = Path(path)
        if path in self._waiting:
            self._waiting.remove(path)
        self._waiting.appendleft(path)
        self.queue_changed.emit()
        if self._worker is None:
            self._start_next()
        elif self._current == path:
            self.cancel()

    def cancel(self) -> None:
        """Stop the running song at its next chunk; waiting songs still follow."""
        if self._worker is not None:
            self._worker.cancel()

    def cancel_all(self) -> None:
        """Forget the waiting songs and stop the running one."""
        self._waiting.clear()
        self.queue_changed.emit()
        self.cancel()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the running job's thread (and one opening a model ahead) ends (for shutdown); True if it did."""
        threads = [self._worker, self._prepared[2] if self._prepared else None]
        return all(thread is None or thread.wait(timeout_ms) for thread in threads)

    def prepare(self) -> None:
        """Open the separator of the model and device set now on a thread of its own, for the first song.

        Opening a large model takes seconds (Demucs v4: 1.4 s on a 2-core CPU),
        which would otherwise come between the musician's drop and the first
        sound. A song dropped meanwhile is decoded while the model opens and
        then takes this separator. A model that cannot be opened stays quiet
        here: the song's own job tries again and says why.
        """
        wanted = (self.model_id, self._device)
        if wanted in self._separators or (self._prepared and self._prepared[0] == wanted):
            return
        future: Future = Future()

        def open_ahead(progress: Progress, cancel: CancelToken) -> None:
            try:
                future.set_result(self.repo.open(wanted[0], device=wanted[1]))
            except Exception as error:  # handed to the job that takes it
                future.set_exception(error)

        worker = Worker(open_ahead, f"Opening {wanted[0]}", self)
        self._prepared = (wanted, future, worker)
        worker.start()

    def _start_next(self) -> None:
        if not self._waiting:
            self._current = None
            self.idle.emit()
            return
        path = self._waiting.popleft()
        self._current = path
        self.queue_changed.emit()
        wanted = (self.model_id, self._device)
        # No job runs now, so the worker thread cannot be using a separator: drop
        # the one of another model or device before a new one is loaded.
        self._separators = {key: kept for key, kept in self._separators.items() if key == wanted}
        if self._prepared and self._prepared[0] != wanted and self._prepared[2].isFinished():
            self._prepared[2].deleteLater()
            self._prepared = None
        worker = Worker(lambda progress, cancel: self._load(path, wanted, progress, cancel), f"Separating {path.name}")
        worker.progressed.connect(self._on_progress)
        worker.succeeded.connect(lambda loaded: self._report(self.song_ready, loaded))
        worker.failed.connect(lambda message: self._report(self.failed, path, message))
        worker.cancelled.connect(lambda: self._report(self.cancelled, path))
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._separating_since = None
        self._time_left = TimeLeft()
        self._stages = ()
        self.started.emit(path)
        worker.start()

    def _load(self, path: Path, wanted: tuple[str, str], progress: Progress, cancel: CancelToken) -> LoadedSong:
        """The job, on the worker thread: decode, separate (or hit the cache), picture.

        ``wanted`` is the (model or preset id, device) to separate with.
        """
        with decode_warnings() as warnings:
            song = decode_song(path)
        separator = self._separators.get(wanted) or self._take_prepared(wanted)
        if separator is None:
            model_id, device = wanted
            separator = self.repo.open(model_id, device=device)
        self._separators[wanted] = separator
        if cancel.cancelled:
            raise Cancelled()
        # A chain of models names its steps (see stemdesk.separators.SeparatorCard); a single model has none.
        self._stages = getattr(separator.card, "stages", ())
        self._separating_since = time.monotonic()
        # A signal emitted from this thread is delivered in the GUI thread.
        self.device_ready.emit(separator.device_name)
        identity = song_key(song.mixture)
        song = separate_song(song, separator, self.cache, progress, cancel,
                             on_growing=lambda growing: self._emit_growing(song, identity, separator, growing))
        picture = song_picture(
            song.mixture.samples, {name: stem.samples for name, stem in song.stems.items()}, song.mixture.rate
        )
        return LoadedSong(song, picture, identity, tuple(warnings))

    def _take_prepared(self, wanted: tuple[str, str]) -> StemSeparator | None:
        """On the worker thread: the separator :meth:`prepare` opened for ``wanted``, once it is open; else None."""
        prepared = self._prepared
        if prepared is None or prepared[0] != wanted:
            return None
        try:
            return prepared[1].result()
        except Exception:  # opened again by the job, which reports the error
            return None

    def _emit_growing(self, song: SongSession, identity: str, separator, growing: GrowingStems) -> None:
        """On the worker thread, at the first finished span: the song to play while separating."""
        stems = {name: Audio(stem, song.mixture.rate) for name, stem in growing.stems.items()}
        session = replace(song, card=separator.card, stems=stems, from_cache=False)
        picture = song_picture(song.mixture.samples, growing.stems, song.mixture.rate)
        self.song_growing.emit(LoadedSong(session, picture, identity, growing=growing))

    def _on_progress(self, done: int, total: int) -> None:
        since, now = self._separating_since, time.monotonic()
        left = self._time_left.update(now, now - since, done, total) if since is not None else None
        self.progressed.emit(done, total, -1.0 if left is None else left, describe_progress(done, total, self._stages))

    def _report(self, signal, *args) -> None:
        # The song is done with: asking for it again from a slot of this signal
        # must queue it anew, although the thread has yet to finish.
        self._current = None
        signal.emit(*args)

    def _on_finished(self) -> None:
        worker = self._worker
        self._worker = None
        if worker is not None:
            worker.deleteLater()
        self._start_next()
