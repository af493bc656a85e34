"""A first stage's output on every song of a split, cached beside the stems for second-stage training.

    python -m stemdesk.training.first_stage --data DIR --split train --model htdemucs \\
        [--stem other] [--tracks N] [--minutes M]

A second-stage model (say, the guitar inside Demucs' "other") meets in use what the first
stage really leaves: its bleed and artefacts, not the clean sum of stems. So each song's
full mix (``mixture.wav``) goes through the first stage once, and the stem asked for is
written to ``<track>/<model>.<stem>.wav`` (float WAV, written atomically); the chunk
dataset draws on it (``ChunkDataset(first_stage="htdemucs.other")`` and
``MixingOptions.first_stage_probability``). Songs already done are skipped, so the command
can be stopped (``--minutes``) and run again.

The first stage is any function from a song to that stem (:data:`FirstStage`);
:func:`separator_stage` makes one from any installed model or preset.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stemdesk.audio import Audio, decode, write_audio
from stemdesk.catalogue import Catalogue
from stemdesk.errors import StemdeskError

#: A first stage: the song's full mix in, the stem a second stage works on out, same shape.
FirstStage = Callable[[Audio], Audio]


def cache_name(model: str, stem: str) -> str:
    """The cached output's file name without ``.wav``: what ``--first-stage`` names in training."""
    return f"{Path(model).stem}.{stem}"


def separator_stage(model: str, stem: str = "other", device: str = "auto") -> FirstStage:
    """A first stage that runs installed model or preset ``model`` and keeps its ``stem``."""
    separator = Catalogue().open(model, device=device)
    if stem not in separator.stems:
        raise StemdeskError(f"{model} has no stem {stem!r}; its stems are {', '.join(separator.stems)}")

    def first_stage(mixture: Audio) -> Audio:
        return separator.separate(mixture)[stem]

    return first_stage


def cache_split(
    split_folder: Path,
    name: str,
    stage: FirstStage,
    tracks: int | None = None,
    deadline: float | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> tuple[int, int]:
    """Write ``<track>/<name>.wav`` for the first ``tracks`` songs of ``split_folder``
    (those with a ``mixture.wav``, sorted by name) that have none yet.

    Stops before a song that would start after ``deadline`` (``time.monotonic()``).
    ``progress(track, status)`` is called after each song. Returns (written, skipped).
    """
    split_folder = Path(split_folder)
    if not split_folder.is_dir():
        raise StemdeskError(f"No data split at {split_folder}")
    songs = sorted(folder for folder in split_folder.iterdir() if (folder / "mixture.wav").is_file())[:tracks]
    if not songs:
        raise StemdeskError(f"No song with a mixture.wav in {split_folder}")
    written = skipped = 0
    for folder in songs:
        target = folder / f"{name}.wav"
        if target.is_file():
            skipped += 1
            continue
        if deadline is not None and time.monotonic() >= deadline:
            break
        began = time.monotonic()
        mixture = decode(folder / "mixture.wav")
        output = stage(mixture)
        if output.samples.shape != mixture.samples.shape or output.rate != mixture.rate:
            raise StemdeskError(f"the first stage returned {output.samples.shape} at {output.rate} Hz "
                                f"for a {mixture.samples.shape} song at {mixture.rate} Hz")
        write_audio(target, output, "FLOAT")
        written += 1
        if progress is not None:
            progress(folder.name, f"{time.monotonic() - began:.1f} s")
    return written, skipped


def main(argv: list[str] | None = None, prog: str = "python -m stemdesk.training.first_stage") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="data set root (<split>/<track>/mixture.wav)")
    parser.add_argument("--split", required=True, help="split folder, e.g. train")
    parser.add_argument("--model", default="htdemucs", help="installed model or preset (default htdemucs)")
    parser.add_argument("--stem", default="other", help="the stem to keep (default other)")
    parser.add_argument("--tracks", type=int, help="only the first N songs")
    parser.add_argument("--minutes", type=float, help="start no song after this many minutes")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        stage = separator_stage(args.model, args.stem, args.device)
        name = cache_name(args.model, args.stem)
        deadline = None if args.minutes is None else time.monotonic() + 60 * args.minutes
        written, skipped = cache_split(
            args.data / args.split, name, stage, args.tracks, deadline,
            lambda track, status: print(f"{track}: {status}", flush=True),
        )
    except StemdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{written} written, {skipped} already there: {name}.wav in each song of {args.data / args.split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
