"""The hostile-input corpus through `stemdesk separate`, all in one batch.

One CLI run separates every case of :mod:`tests.hostile.corpus` (with the
shipped Spleeter model cut to short segments, so that each tiny file costs a
fraction of a second), then each case is checked on its own: one clear line,
no traceback, nothing partial, its stems summing to what it decodes to.
``python -m tests.hostile.table`` prints every case with its outcome.
"""

import os
import re

import numpy as np
import pytest
import soundfile as sf

from stemdesk.audio import decode
from tests.hostile.batch import run_batch
from tests.hostile.corpus import CASES

STEMS = ["accompaniment.wav", "vocals.wav"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory, short_segment_card):
    """Every case made in one folder and separated by one `stemdesk separate` run."""
    return run_batch(tmp_path_factory.mktemp("hostile-inputs"), tmp_path_factory.mktemp("hostile-out") / "stems",
                     short_segment_card)


def test_the_corpus_has_at_least_forty_cases_of_every_kind():
    assert len(CASES) >= 40 and len({case.id for case in CASES}) == len(CASES)
    assert {case.outcome for case in CASES} == {"stems", "warn", "error"}


def test_the_batch_as_a_whole(batch):
    assert batch.status == 1, "some files were refused"
    assert "Traceback" not in batch.raw_stderr
    assert batch.python_warnings == []
    # Every stderr line is the model line, a warning or an error: no library noise.
    stray = [line for line in batch.stderr
             if not line.startswith(("stemdesk: ", "Model ")) and not re.fullmatch(r"\d+ songs: .*", line)]
    assert stray == []
    written = {result.folder.name for result in batch.results.values() if result.case.outcome != "error"}
    assert sorted(os.listdir(batch.out)) == sorted(written), "no folder for refused files, no leftovers"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(batch, case):
    result = batch.results[case.id]
    errors, warnings, done = result.errors, result.warnings, result.done
    if case.outcome == "error":
        assert len(errors) == 1 and not done and not warnings, (errors, done, warnings)
        assert re.search(case.says, errors[0]), errors[0]
        assert not os.path.lexists(result.folder)
        return
    assert not errors and len(done) == 1, (errors, done)
    if case.outcome == "warn":
        assert len(warnings) == 1 and re.search(case.says, warnings[0]), warnings
    else:
        assert not warnings, warnings
    assert sorted(name for name in os.listdir(result.folder) if not name.startswith(".")) == STEMS
    mixture = decode(result.song)
    stems = [sf.read(result.folder / name, dtype="float32", always_2d=True) for name in STEMS]
    assert all(rate == mixture.rate for _, rate in stems)
    total = sum(samples.T.astype(np.float64) for samples, _ in stems)
    scale = max(1.0, float(np.abs(mixture.samples).max()))
    np.testing.assert_allclose(total, mixture.samples, rtol=0, atol=1e-5 * scale)
