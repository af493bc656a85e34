"""One `stemdesk separate` run over the whole corpus, and what each case printed.

Shared by the corpus test and by ``python -m tests.hostile.table``, which
prints every case with its outcome.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import warnings
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from stemdesk.cli import main
from stemdesk.stem_files import folder_names
from tests.hostile.corpus import CASES, Case


@dataclass(frozen=True)
class CaseResult:
    case: Case
    song: Path
    folder: Path
    errors: list[str]
    warnings: list[str]
    done: list[str]


@dataclass(frozen=True)
class Batch:
    status: int
    out: Path
    stdout: list[str]
    stderr: list[str]
    raw_stderr: str
    python_warnings: list[str]
    results: dict[str, CaseResult]


def short_segment_model(card_path: Path, onnx_path: Path, folder: Path) -> Path:
    """The shipped Spleeter model with 128-frame segments: same network, ~4x less work per tiny file."""
    shutil.copy(onnx_path, folder)
    card = json.loads(card_path.read_text())
    card["segment_frames"] = 128
    short = folder / card_path.name
    short.write_text(json.dumps(card))
    return short


def shown(path: Path) -> str:
    """How the CLI prints a path: one line, undecodable bytes and control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def run_batch(folder: Path, out: Path, model: Path) -> Batch:
    """Make every case in ``folder`` and separate them all into ``out`` in one CLI run."""
    songs = {case.id: case.make(folder) for case in CASES}
    stdout, stderr = io.StringIO(), io.StringIO()
    # Python warnings (numpy's RuntimeWarning...) would be lines on a real stderr too.
    with redirect_stdout(stdout), redirect_stderr(stderr), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(["separate", "-o", str(out), "--model", str(model), "--device", "cpu",
                       "--", *map(str, songs.values())])
    # Progress bars redraw with carriage returns; the lines a terminal keeps are what is after the last.
    err_lines = [line.split("\r")[-1] for line in stderr.getvalue().split("\n")]
    err_lines = [line for line in err_lines if line.strip()]
    out_lines = stdout.getvalue().splitlines()
    results = {}
    for case, name in zip(CASES, folder_names(list(songs.values()))):
        song = songs[case.id]
        results[case.id] = CaseResult(
            case, song, out / name,
            errors=[line for line in err_lines if line.startswith(f"stemdesk: error: {shown(song)}: ")],
            warnings=[line for line in err_lines
                      if line.startswith("stemdesk: warning: ") and f"'{shown(song)}'" in line],
            done=[line for line in out_lines if line.startswith(f"{shown(song)} -> ")],
        )
    return Batch(status, out, out_lines, err_lines, stderr.getvalue(), [str(w.message) for w in caught], results)
