"""Exporting the open song: what to write (the request), the job, and its runner.

Three kinds of export, all into ``<folder>/<song title>/`` and named after the
song, so that a file dragged elsewhere still says what it is:

- ``stems``: the chosen stems, one file each (``song - vocals.wav``...);
- ``rest``: everything but one stem, the practice track (``song - no_vocals.wav``);
- ``mix``: the mix the mixer plays now, faders, mute and solo included (``song - mix.wav``).

The files are written by :mod:`stemdesk.exports` (temporary name, then
renamed) on a worker thread, one export at a time. In 16/24-bit formats the
stems and rests of a song share one gain so that none clips (the same gain
the CLI uses), and the window reports it; float WAV keeps the level.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from stemdesk.chunking import Progress
from stemdesk.exports import export_mix, export_rest, export_stems
from stemdesk.headroom import WrittenFiles
from stemdesk.gui.preferences import EXPORT_FORMATS
from stemdesk.gui.worker import Worker
from stemdesk.playback import MixerState
from stemdesk.session import SongSession
from stemdesk.errors import StemdeskError
from stemdesk.leftovers import remove_leftovers
from stemdesk.stem_files import REST_PREFIX, folder_name, song_folder, song_gain

KINDS = ("stems", "rest", "mix")


@dataclass(frozen=True)
class ExportRequest:
    """What to export.

    kind: "stems", "rest" or "mix".
    stems: for "stems" the stems to write; for "rest" the one stem left out.
    export_format: a key of EXPORT_FORMATS ("WAV 24-bit", "FLAC 16-bit"...).
    folder: the export folder; files go to its ``<song title>`` subfolder.
    """

    kind: str
    folder: Path
    export_format: str = "WAV 32-bit float"
    stems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"export kind must be one of {KINDS}, got {self.kind!r}")
        if self.export_format not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {self.export_format!r}")
        if self.kind == "rest" and len(self.stems) != 1:
            raise ValueError("'everything but' needs exactly one stem to leave out")
        if self.kind == "stems" and not self.stems:
            raise ValueError("choose at least one stem to export")

    def describe(self) -> str:
        if self.kind == "stems":
            return ", ".join(self.stems)
        if self.kind == "rest":
            return f"everything but {self.stems[0]}"
        return "the current mix"


def export_song(request: ExportRequest, song: SongSession, state: MixerState, progress: Progress) -> WrittenFiles:
    """Write what ``request`` asks for; return the paths written and their gain.

    ``state`` is the mixer state used by a "mix" export. ``progress(files
    done, files total)`` follows each file. StemdeskError when a file cannot
    be written (full disk, no permission...): no half-written file remains.
    """
    existed = (request.folder / folder_name(song.path)).is_dir()
    folder = song_folder(song.path, request.folder)
    remove_leftovers(folder)
    try:
        return _write_export(request, song, state, progress, folder)
    except StemdeskError:
        if not existed:
            # A folder made for files that could not be written is of no use.
            with suppress(OSError):
                folder.rmdir()
        raise


def _write_export(request: ExportRequest, song: SongSession, state: MixerState, progress: Progress,
                  folder: Path) -> WrittenFiles:
    file_format, subtype = EXPORT_FORMATS[request.export_format]
    prefix = f"{song.title} - "
    if request.kind == "stems":
        gain = song_gain(song.stems, song.mixture, subtype)
        return export_stems(song.stems, list(request.stems), folder, file_format, subtype, progress, gain, prefix)
    progress(0, 1)
    if request.kind == "rest":
        name = request.stems[0]
        path = folder / f"{prefix}{REST_PREFIX}{name}.{file_format}"
        written = export_rest(song.stems, song.mixture, name, path, subtype, song_gain(song.stems, song.mixture, subtype))
    else:
        written = export_mix(song.stems, state, folder / f"{prefix}mix.{file_format}", subtype)
    progress(1, 1)
    return written


class ExportRunner(QObject):
    """Runs one export at a time on a worker thread.

    Signals:
        started(description): an export began, e.g. "everything but vocals of song.mp3".
        progressed(done, total): files written so far.
        finished(request, written): the export wrote ``written.paths``
            (a :class:`~stemdesk.headroom.WrittenFiles`, with the gain applied).
        failed(message): the export wrote nothing more (e.g. the disk is full).
    """

    started = Signal(str)
    progressed = Signal(int, int)
    finished = Signal(object, object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: Worker | None = None
        # Workers that reported but whose threads are still winding down.
        self._ending: list[Worker] = []

    @property
    def busy(self) -> bool:
        return self._running is not None

    def run(self, request: ExportRequest, song: SongSession, state: MixerState) -> bool:
        """Start writing ``request`` for ``song`` (``state`` for a mix); False while another runs."""
        if self._running is not None:
            return False
        worker = Worker(lambda progress, cancel: export_song(request, song, state, progress), "Export")
        worker.progressed.connect(self.progressed)
        worker.succeeded.connect(lambda written: self._report(self.finished, request, written))
        worker.failed.connect(lambda message: self._report(self.failed, message))
        worker.finished.connect(lambda: self._release(worker))
        self._running = worker
        self.started.emit(f"{request.describe()} of {song.path.name}")
        worker.start()
        return True

    def wait(self) -> None:
        """Block until every export thread has ended (for shutdown)."""
        for worker in [self._running, *self._ending]:
            if worker is not None:
                # An export takes seconds at most; cutting it off would only lose the file.
                worker.wait()

    def _report(self, signal, *args) -> None:
        # The next export may start from a slot of this signal.
        self._ending.append(self._running)
        self._running = None
        signal.emit(*args)

    def _release(self, worker: Worker) -> None:
        if worker in self._ending:
            self._ending.remove(worker)
        worker.deleteLater()
