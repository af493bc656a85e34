"""Command line: ``stemdesk [SONG | --demo]`` opens the app; subcommands work headless.

    stemdesk separate [IN|DIR...] [-o OUT] [--model ID] [--stems a,b] [--rest]
                      [--format wav|flac] [--bit-depth 16|24|float] [--device auto|cpu|gpu]
                      [--jobs N] [--ray [ADDRESS]]
    stemdesk models
    stemdesk eval --model ID --data DIR --report OUT.md
    stemdesk synth --out DIR --tracks N --seconds S --soundfont NAME   (render training data)
    stemdesk train --data DIR --target guitar --arch unet --out RUN --steps N [--resume]
    stemdesk export --checkpoint RUN/checkpoint.pt --out models

Parses arguments, calls the API, prints progress. User errors print one line
on stderr and give a non-zero exit status; a failed file does not stop a batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import PROJECT_ROOT, __version__
from .errors import StemdeskError

DEMO_SONG = PROJECT_ROOT / "resources" / "demo" / "audio_example.mp3"
SUBCOMMANDS = ("separate", "models")
#: Subcommands whose own module parses the rest of the command line.
DELEGATED = {
    "eval": "stemdesk.evaluation.command",
    "synth": "stemdesk.training.synth.command",
    "train": "stemdesk.training.train",
    "export": "stemdesk.training.export_trained",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in DELEGATED:
            return _delegate(argv[0], argv[1:])
        if argv and argv[0] in SUBCOMMANDS:
            args = _parser().parse_args(argv)
            return args.run(args)
        return _open_app(argv)
    except StemdeskError as error:
        _error(str(error))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
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
    separate.add_argument("--bit-depth", choices=list(BIT_DEPTHS), default="16")
    separate.add_argument("--device", choices=DEVICES, default="auto")
    separate.add_argument("--workers", type=int, default=None,
                          help="network runs at once (default 1 on the CPU, 2 on a GPU); 2 on the CPU is faster with RAM to spare")
    separate.add_argument("--jobs", type=int, default=None,
                          help="songs separated at once in local processes, sharing the cores (default 1)")
    separate.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                          help="run the songs as Ray tasks, on the cluster at ADDRESS or a local Ray (the ray extra)")
    separate.set_defaults(run=_separate)

    models = commands.add_parser("models", help="list installed models")
    models.set_defaults(run=_models)
    return parser


def _separate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batch import BatchOptions, check_options, describe, find_songs, run_batch
    from .stem_files import BIT_DEPTHS

    inputs = args.inputs or [DEMO_SONG]
    if not args.inputs:
        print(f"No input given: separating the demo song {DEMO_SONG.name}", file=sys.stderr)
    if args.jobs is not None and args.jobs < 1:
        raise StemdeskError(f"--jobs must be at least 1, not {args.jobs}.")
    options = BatchOptions(model=args.model, device=args.device, stems=tuple(args.stems) if args.stems else None,
                           rest=args.rest, file_format=args.format, subtype=BIT_DEPTHS[args.bit_depth],
                           workers=args.workers)
    jobs = find_songs(inputs, args.output)
    print(f"Model {check_options(options)}", file=sys.stderr)

    def progress_for(job):
        bar = tqdm(desc=job.song.name, unit="chunk", leave=False, file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return progress, bar.close

    def report(result) -> None:
        if result.status == "done":
            print(describe(result))
        elif result.status == "skipped":
            print(f"{result.song}: skipped, already done", file=sys.stderr)
        else:
            _error(describe(result))

    summary = run_batch(jobs, options, processes=args.jobs or (0 if args.ray is not None else 1), use_ray=args.ray is not None,
                        ray_address=args.ray or None, report=report, progress_for=progress_for)
    if len(jobs) > 1:
        print(f"{len(jobs)} songs: {summary.line()}", file=sys.stderr)
    return 1 if summary.failed else 0


def _models(args: argparse.Namespace) -> int:
    from .models import ModelRepo
    from .presets import installed_presets

    cards, presets = ModelRepo().list(), installed_presets()
    if not cards:
        _error("no models installed")
        return 1
    for card in cards:
        print(f"{card.id:<24} {card.version:<8} {card.architecture:<10} {','.join(card.stems):<32} {card.name}")
    for preset in presets:
        print(f"{preset.id:<24} {preset.version:<8} {'preset':<10} {','.join(preset.stems):<32} {preset.name}")
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
        raise StemdeskError(f"The window needs the gui extra (pip install 'stemdesk[gui]'): {error}") from None
    return run_app(DEMO_SONG if args.demo else args.song)


def _error(message: str) -> None:
    print(f"stemdesk: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
