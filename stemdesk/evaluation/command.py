"""``python -m stemdesk.evaluation`` (``stemdesk eval``): score a model on a multitrack dataset.

    --model ID_OR_CARD_OR_PRESET --data DIR [--split NAME] [--tracks N] [--seconds S]
    [--device auto|cpu|gpu] --report OUT.md [--into-card] [--stage other [--first-stage htdemucs.other]]

``--stage other`` scores a second-stage model on what Demucs' "other" holds (see
:mod:`stemdesk.evaluation.stages`): the sum of those stems, or with ``--first-stage`` the
first stage's cached output on each song, i.e. through the whole chain.

Writes OUT.md, OUT.png and OUT.json; prints one line per song and the
medians. User errors print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stemdesk.catalogue import Catalogue
from stemdesk.datasets import Track, load_dataset
from stemdesk.errors import StemdeskError
from stemdesk.separate import DEVICES

from .report import RunInfo, record_in_card, write_report
from .scoring import medians, score_dataset
from .stages import songs_at_stage

DEFAULT_SECONDS = 10.0
MODULE_PROG = "python -m stemdesk.evaluation"


def main(argv: list[str] | None = None, prog: str = MODULE_PROG) -> int:
    """Run the command line ``argv``; ``prog`` is how the report quotes the command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(prog).parse_args(argv)
    try:
        summary = evaluate(
            model=args.model, data=args.data, report=args.report, split=args.split, tracks=args.tracks,
            seconds=args.seconds or None, device=args.device, command=shlex.join([*shlex.split(prog), *argv]),
            progress=_print_progress, into_card=args.into_card, stage=args.stage, first_stage=args.first_stage,
        )
    except StemdeskError as error:
        print(f"stemdesk eval: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stemdesk eval: interrupted", file=sys.stderr)
        return 130
    for stem, by_method in summary.items():
        model, identity, oracle = (by_method[method]["sdr"] for method in ("model", "identity", "oracle"))
        print(f"{stem}: median SDR {model:.2f} dB (identity {identity:.2f}, oracle {oracle:.2f})")
    print(f"Report: {args.report}")
    return 0


def evaluate(
    model: str,
    data: Path,
    report: Path,
    split: str | None = None,
    tracks: int | None = None,
    seconds: float | None = DEFAULT_SECONDS,
    device: str = "auto",
    command: str = "",
    progress: Callable[[int, int, Track], None] | None = None,
    into_card: bool = False,
    stage: str = "mix",
    first_stage: str | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Score ``model`` on the songs in ``data``, write the report, return the medians.

    The medians are ``{stem: {method: {metric: dB}}}`` with methods model,
    identity and oracle and metrics sdr, sir, sar and global_sdr; what a
    model card's ``metrics`` can hold. ``tracks`` keeps the first N songs
    (sorted by split and name); ``seconds`` scores the middle S seconds of
    each (None: whole songs). ``progress(done, total, track)`` is called
    after each song; ``command`` is quoted in the report. ``into_card`` also
    stores the medians in the model's card (see :func:`report.record_in_card`).
    ``stage`` "other" scores on what Demucs' "other" holds, from ``first_stage``'s
    cached output when given (see :func:`stages.as_other_stage`).
    """
    report = Path(report)
    if report.suffix.lower() != ".md":
        raise StemdeskError(f"the report '{report}' must be a .md file (its plot and numbers go beside it)")
    _require_packages()
    songs = songs_at_stage(load_dataset(data, split)[:tracks], stage, first_stage)
    separator = Catalogue().open(model, device=device)
    card_path = getattr(separator.card, "card_path", None)
    if into_card and card_path is None:
        raise StemdeskError(f"{model!r} is a preset: it has no card file to record figures in")
    try:
        # Before the long part: a report that cannot be written should cost seconds, not the run.
        report.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StemdeskError(f"cannot create the report's folder '{report.parent}': {error.strerror}") from error
    started = time.monotonic()
    scores = score_dataset(separator, songs, seconds, progress)
    if not scores:
        raise StemdeskError(f"none of the {len(songs)} songs has a stem that model {model!r} separates "
                            f"({', '.join(separator.stems)}) to compare with")
    summary = medians(scores)
    info = RunInfo(
        command=command, card=separator.card, data=Path(data), split=split, songs=[song.name for song in songs],
        seconds=seconds, device=separator.device_name, elapsed_s=time.monotonic() - started,
    )
    write_report(report, scores, summary, info)
    if into_card:
        record_in_card(card_path, scores, summary, info)
    return summary


def _require_packages() -> None:
    """stemdesk itself needs neither; find out before the long part rather than after it."""
    for package, purpose in (("museval", "BSS Eval"), ("matplotlib", "the report's plot")):
        if importlib.util.find_spec(package) is None:
            raise StemdeskError(f"{purpose} needs the {package} package: pip install {package}")


def _print_progress(done: int, total: int, track: Track) -> None:
    print(f"[{done}/{total}] {track.name}", file=sys.stderr, flush=True)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Score a separation model on a multitrack dataset (MUSDB18, MUSDB18-HQ, MedleyDB, "
        "Slakh2100 or stemdesk-rendered) against the identity and oracle-mask references.",
    )
    parser.add_argument("--model", required=True, help="model or preset id, or card path")
    parser.add_argument("--data", required=True, type=Path, help="dataset folder")
    parser.add_argument("--split", help="only songs in this split folder (e.g. test)")
    parser.add_argument("--tracks", type=_positive_int, help="score only the first N songs")
    parser.add_argument("--seconds", type=_non_negative_float, default=DEFAULT_SECONDS,
                        help=f"score the middle S seconds of each song, 0: whole songs (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--report", required=True, type=Path, help="markdown report to write (OUT.md)")
    parser.add_argument("--stage", choices=("mix", "other"), default="mix",
                        help="mix: score on the songs (default); other: on what Demucs' \"other\" holds")
    parser.add_argument("--first-stage", help="with --stage other: the cached first stage to score on, "
                        "e.g. htdemucs.other (default: the sum of the stems \"other\" holds)")
    parser.add_argument("--into-card", action="store_true",
                        help="also store the medians in the model card's metrics (models/ID.json)")
    return parser


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
