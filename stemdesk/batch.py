"""Separating a library of songs: find them, skip those done, run the rest here or on Ray.

One per-song task, :func:`separate_job`, is what every runner calls: in this
process (``jobs=1``), in N local processes (a ``ProcessPoolExecutor``) or as a
Ray task on a cluster. It is stateless per song (the separator it opens is
kept per process only to save loading the model again), so a song's result
never depends on where it ran.

"Done" is decided by a small marker, ``.stemdesk-done.json``, in the song's
output folder, written atomically after its stems: the model's identity, the
options that shape the files, the input's size and modification time and the
files written. A song counts as done only when the marker matches all of that
and every file it lists exists; anything else (no marker: an interrupted or
failed run; another model, other options, an edited input, a deleted stem)
is separated again. So an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .audio import SUPPORTED_SUFFIXES, atomic_path
from .chunking import CancelToken, Cancelled, Progress
from .errors import StemdeskError
from .separators import ENGINE_REVISION
from .stem_files import DONE_MARKER, choose_stems, folder_names
from .streamed_stems import separate_file_streamed

_MARKER_FORMAT = 1


@dataclass(frozen=True)
class BatchOptions:
    """What to separate with and what to write; the same for every song of a batch."""

    model: str
    device: str = "auto"
    stems: tuple[str, ...] | None = None
    rest: bool = False
    file_format: str = "wav"
    subtype: str = "FLOAT"
    workers: int | None = None

    def shaping(self) -> dict:
        """The options a song's files depend on (not where or how fast they were made)."""
        return {"stems": list(self.stems) if self.stems else None, "rest": self.rest,
                "format": self.file_format, "subtype": self.subtype}


@dataclass(frozen=True)
class SongJob:
    """One song, the folder its output folder goes into, and that folder's name."""

    song: Path
    out_dir: Path
    name: str

    @property
    def folder(self) -> Path:
        return self.out_dir / self.name


@dataclass(frozen=True)
class SongResult:
    """How one song went: ``status`` is "done", "skipped", "failed" or "cancelled"."""

    song: Path
    status: str
    message: str = ""
    paths: tuple[Path, ...] = ()
    seconds: float = 0.0
    note: str | None = None  # e.g. the gain that kept PCM files from clipping


@dataclass
class BatchSummary:
    """Counts of a finished (or interrupted) batch and its wall time in seconds."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: int = 0
    seconds: float = 0.0
    results: list[SongResult] = field(default_factory=list)

    def add(self, result: SongResult) -> None:
        setattr(self, result.status, getattr(self, result.status) + 1)
        self.results.append(result)

    def line(self) -> str:
        parts = [f"{self.done} done", f"{self.skipped} skipped", f"{self.failed} failed"]
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        return f"{', '.join(parts)} in {self.seconds:.1f} s"


def find_songs(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike) -> list[SongJob]:
    """The jobs for files and folders given on a command line, in a stable order.

    A file is taken as it is (a bad or missing one fails in its own job). A folder is
    searched recursively for files with a supported audio suffix, skipping
    hidden files and folders (a half-written download, our own staging
    files); its songs' output folders mirror its tree under ``out_dir``, so
    ``a/take.wav`` and ``b/take.wav`` do not collide. A folder without songs
    is a job that fails, so that a mistyped path is reported.
    """
    out_dir = Path(out_dir)
    found_songs: list[tuple[Path, Path]] = []  # (song, folder its output folder goes into)
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(
                path for path in given.rglob("*")
                if path.suffix.lower() in SUPPORTED_SUFFIXES and path.is_file()
                and not any(part.startswith(".") for part in path.relative_to(given).parts)
            )
            found_songs.extend((path, out_dir / path.relative_to(given).parent) for path in found)
            if not found:
                found_songs.append((given, out_dir))  # fails in its job: nothing to separate
        else:
            found_songs.append((given, out_dir))
    # Songs whose output folders share a parent get distinct names (take, take-2...).
    by_parent: dict[Path, list[int]] = {}
    for index, (_, parent) in enumerate(found_songs):
        by_parent.setdefault(parent, []).append(index)
    names: dict[int, str] = {}
    for indices in by_parent.values():
        names.update(zip(indices, folder_names([found_songs[index][0] for index in indices])))
    return [SongJob(song, parent, names[index]) for index, (song, parent) in enumerate(found_songs)]


def model_identity(card) -> str:
    """A string that changes whenever the model's output could: the card's digest and the engine's revision."""
    return f"{card.identity} engine {ENGINE_REVISION}"


def _input_stamp(song: Path) -> dict | None:
    try:
        stat = song.stat()
    except OSError:
        return None  # it fails to decode, in its own job
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_done(job: SongJob, identity: str, options: BatchOptions) -> bool:
    """Whether ``job``'s folder holds a complete, matching separation (see the module doc)."""
    try:
        marker = json.loads((job.folder / DONE_MARKER).read_text(encoding="utf-8"))
        return (
            marker.get("format") == _MARKER_FORMAT
            and marker.get("model") == identity
            and marker.get("options") == options.shaping()
            and marker.get("input") == _input_stamp(job.song)
            and bool(marker.get("files"))
            and all((job.folder / name).is_file() for name in marker["files"])
        )
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def _write_marker(job: SongJob, identity: str, options: BatchOptions, stamp: dict, paths: list[Path]) -> None:
    marker = {"format": _MARKER_FORMAT, "model": identity, "options": options.shaping(),
              "input": stamp, "files": [path.name for path in paths]}
    with atomic_path(job.folder / DONE_MARKER) as temp:
        temp.write_text(json.dumps(marker, indent=1), encoding="utf-8")


# The separator of this process, by (options, cores): a worker process or a Ray
# worker runs many songs, and loading a model costs a second.
_separators: dict[tuple, object] = {}


def _separator_for(options: BatchOptions, cores: int | None):
    from .catalogue import Catalogue

    key = (options.model, options.device, options.workers, cores)
    if key not in _separators:
        _separators.clear()
        _separators[key] = Catalogue().open(options.model, device=options.device, workers=options.workers,
                                            cores=cores)
    return _separators[key]


def separate_job(
    job: SongJob,
    options: BatchOptions,
    cores: int | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SongResult:
    """The per-song task: skip ``job`` if done, else separate it and mark it done.

    Never raises for one song's trouble: a bad file, a write failure or an
    unexpected error becomes a "failed" result, so the batch goes on; a
    cancel becomes "cancelled" with nothing of the song left behind.
    """
    started = time.monotonic()
    if job.song.is_dir():
        suffixes = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return SongResult(job.song, "failed", f"no audio files in this folder or below it ({suffixes})")
    try:
        separator = _separator_for(options, cores)
        identity = model_identity(separator.card)
        if is_done(job, identity, options):
            return SongResult(job.song, "skipped", "already done")
        stamp = _input_stamp(job.song)
        written = separate_file_streamed(
            separator, job.song, job.out_dir, stems=list(options.stems) if options.stems else None,
            rest=options.rest, file_format=options.file_format, subtype=options.subtype,
            progress=progress, cancel=cancel, name=job.name)
        _write_marker(job, identity, options, stamp, written.paths)
    except StemdeskError as error:
        status = "cancelled" if isinstance(error, Cancelled) else "failed"
        return SongResult(job.song, status, str(error), seconds=time.monotonic() - started)
    except (OSError, ValueError, RuntimeError, MemoryError) as error:
        return SongResult(job.song, "failed", f"{type(error).__name__}: {error}", seconds=time.monotonic() - started)
    return SongResult(job.song, "done", paths=tuple(written.paths), seconds=time.monotonic() - started,
                      note=written.gain_note())


def check_options(options: BatchOptions) -> str:
    """Open the model once in this process and check the stems asked for; its description.

    Done before any song is started, so a wrong model id or stem name is one
    error, not one per song.
    """
    separator = _separator_for(options, None)
    choose_stems(separator.stems, list(options.stems) if options.stems else None)
    return f"{options.model} ({', '.join(separator.stems)}) on {separator.device_name}"


Report = Callable[[SongResult], None]


def run_batch(
    jobs: list[SongJob],
    options: BatchOptions,
    processes: int = 1,
    ray_address: str | None = None,
    use_ray: bool = False,
    report: Report | None = None,
    progress_for: Callable[[SongJob], tuple[Progress, Callable[[], None]]] | None = None,
) -> BatchSummary:
    """Run every job; return the counts once all have ended.

    Args:
        processes: songs at once. 1 runs them in this process, in order;
            N > 1 in N local processes sharing the cores (each separator's
            ONNX Runtime threads get cores / N); with Ray, N tasks at once
            (0: as many as the cluster has CPUs, one core each).
        use_ray / ray_address: run the jobs as Ray tasks, on the cluster at
            ``ray_address`` (None: a local Ray started for the batch).
        report: called in this process with each song's result as it ends.
        progress_for: for in-process runs, ``(progress, close)`` per job.

    A KeyboardInterrupt (Ctrl-C) stops every running song at its next chunk,
    leaves no partial files, and is raised again once they have stopped.
    """
    summary = BatchSummary()
    started = time.monotonic()

    def finished(result: SongResult) -> None:
        summary.add(result)
        if report is not None:
            report(result)

    if use_ray or processes > 1:
        _separators.clear()  # check_options' separator: the workers open their own
    try:
        if use_ray:
            _run_on_ray(jobs, options, processes, ray_address, finished)
        elif processes > 1:
            _run_in_processes(jobs, options, processes, finished)
        else:
            for job in jobs:
                progress, close = progress_for(job) if progress_for else (None, lambda: None)
                try:
                    result = separate_job(job, options, progress=progress)
                finally:
                    close()
                finished(result)
    finally:
        summary.seconds = time.monotonic() - started
    return summary


def _cores_per_job(processes: int) -> int:
    return max(1, (os.cpu_count() or 1) // processes)


class _EventCancel(CancelToken):
    """A cancel token set from another process through a shared event."""

    def __init__(self, event):
        super().__init__()
        self._event = event

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


_stop_event = None


def _init_process(event) -> None:
    global _stop_event
    _stop_event = event
    # Ctrl-C reaches the whole process group; the parent alone decides, and
    # tells the workers through the event, so each ends its song cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_task(job: SongJob, options: BatchOptions, cores: int) -> SongResult:
    return separate_job(job, options, cores, cancel=_EventCancel(_stop_event))


def _run_in_processes(jobs: list[SongJob], options: BatchOptions, processes: int, finished: Report) -> None:
    # spawn, not fork: a forked copy of a process running ONNX Runtime's
    # thread pools (or holding a lock in one) can hang.
    context = get_context("spawn")
    stop = context.Event()
    cores = _cores_per_job(processes)
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_init_process, initargs=(stop,)) as pool:
        futures: dict[Future, SongJob] = {pool.submit(_process_task, job, options, cores): job for job in jobs}
        try:
            _collect(futures, finished)
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            # The running songs stop at their next chunk and clean up.
            _collect({f: j for f, j in futures.items() if not f.cancelled()}, finished)
            raise


def _collect(futures: dict[Future, SongJob], finished: Report) -> None:
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            try:
                result = future.result()
            except Exception as error:  # a worker process died (killed, out of memory)
                result = SongResult(futures[future].song, "failed", f"worker process failed: {error}")
            finished(result)


def _run_on_ray(jobs: list[SongJob], options: BatchOptions, tasks: int, address: str | None, finished: Report) -> None:
    try:
        import ray
    except ImportError:
        raise StemdeskError("--ray needs Ray: pip install 'stemdesk[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, logging_level="warning", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise StemdeskError(f"cannot reach the Ray cluster {address or '(local)'}: {error}") from None
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        tasks = tasks or cpus
        cores = max(1, cpus // tasks)
        remote = ray.remote(num_cpus=cores, max_retries=0)(separate_job)
        # Bounded submission: `tasks` songs in flight at once, as with local processes.
        queue = list(jobs)
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < tasks:
                    job = queue.pop(0)
                    running[remote.remote(job, options, cores)] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        finished(ray.get(ref))
                    except ray.exceptions.RayError as error:
                        finished(SongResult(job.song, "failed", f"Ray task failed: {str(error).splitlines()[0]}"))
        except KeyboardInterrupt:
            for ref in running:
                ray.cancel(ref)
            for ref, job in running.items():
                try:
                    finished(ray.get(ref))
                except ray.exceptions.RayError:
                    finished(SongResult(job.song, "cancelled", "interrupted"))
            raise
    finally:
        if started_here:
            ray.shutdown()

