"""The hostile-input corpus through `stemdesk separate`, all in one batch.

One CLI run separates every case of :mod:`tests.hostile.corpus` (with the
shipped Spleeter model cut to short segments, so that each tiny file costs a
fraction of a second), then each case is checked on its own: one clear line,
no traceback, nothing partial, its stems summing to what it decodes to.
"""

import io
import json
import os
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdesk.audio import decode
from stemdesk.cli import main
from stemdesk.stem_files import folder_names
from tests.hostile.corpus import CASES

STEMS = ["accompaniment.wav", "vocals.wav"]


@pytest.fixture(scope="session")
def short_segment_model(tmp_path_factory, default_card) -> Path:
    """The shipped Spleeter model with 128-frame segments: same network, ~4x less work per tiny file."""
    folder = tmp_path_factory.mktemp("short-segment-model")
    shutil.copy(default_card.onnx_path, folder)
    card = json.loads(default_card.card_path.read_text())
    card["segment_frames"] = 128
    card_path = folder / default_card.card_path.name
    card_path.write_text(json.dumps(card))
    return card_path


def shown(path: Path) -> str:
    """How the CLI prints a path: one line, undecodable bytes and control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, short_segment_model):
    """Every case made in one folder and separated by one `stemdesk separate` run."""
    folder = tmp_path_factory.mktemp("hostile-inputs")
    out = tmp_path_factory.mktemp("hostile-out") / "stems"
    songs = {case.id: case.make(folder) for case in CASES}
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = main(["separate", "-o", str(out), "--model", str(short_segment_model), "--device", "cpu",
                       "--", *map(str, songs.values())])
    # Progress bars redraw with carriage returns; the lines a terminal keeps are what is after the last.
    err_lines = [line.split("\r")[-1] for line in stderr.getvalue().split("\n")]
    return {
        "status": status, "out": out, "songs": songs, "stdout": stdout.getvalue().splitlines(),
        "stderr": [line for line in err_lines if line.strip()], "raw_stderr": stderr.getvalue(),
        "folders": dict(zip(songs, folder_names(list(songs.values())))),
    }


def test_the_corpus_has_at_least_forty_cases_of_every_kind():
    assert len(CASES) >= 40 and len({case.id for case in CASES}) == len(CASES)
    assert {case.outcome for case in CASES} == {"stems", "warn", "error"}


def test_the_batch_as_a_whole(batch):
    assert batch["status"] == 1, "some files were refused"
    assert "Traceback" not in batch["raw_stderr"]
    # Every stderr line is the model line, a warning or an error: no library noise.
    stray = [line for line in batch["stderr"] if not line.startswith(("stemdesk: ", "Model "))]
    assert stray == []
    written = {case.id: batch["folders"][case.id] for case in CASES if case.outcome != "error"}
    assert sorted(os.listdir(batch["out"])) == sorted(written.values()), "no folder for refused files, no leftovers"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(batch, case):
    song = batch["songs"][case.id]
    errors = [line for line in batch["stderr"] if line.startswith(f"stemdesk: error: {shown(song)}: ")]
    warnings = [line for line in batch["stderr"] if line.startswith("stemdesk: warning: ")
                and f"'{shown(song)}'" in line]
    done = [line for line in batch["stdout"] if line.startswith(f"{shown(song)} -> ")]
    folder = batch["out"] / batch["folders"][case.id]
    if case.outcome == "error":
        assert len(errors) == 1 and not done and not warnings, (errors, done, warnings)
        assert re.search(case.says, errors[0]), errors[0]
        assert not os.path.lexists(folder)
        return
    assert not errors and len(done) == 1, (errors, done)
    if case.outcome == "warn":
        assert len(warnings) == 1 and re.search(case.says, warnings[0]), warnings
    else:
        assert not warnings, warnings
    assert sorted(os.listdir(folder)) == STEMS
    mixture = decode(song)
    stems = [sf.read(folder / name, dtype="float32", always_2d=True) for name in STEMS]
    assert all(rate == mixture.rate for _, rate in stems)
    total = sum(samples.T.astype(np.float64) for samples, _ in stems)
    scale = max(1.0, float(np.abs(mixture.samples).max()))
    np.testing.assert_allclose(total, mixture.samples, rtol=0, atol=1e-5 * scale)
