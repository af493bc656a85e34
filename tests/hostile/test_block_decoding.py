"""The hostile-input corpus through both decoders: block by block exactly as whole.

`stemdesk separate` decodes block by block (:func:`stemdesk.audio_stream.open_stream`,
checked end to end by test_cli_corpus); the window decodes a song whole
(:func:`stemdesk.audio.decode`). For every case both must refuse with the same
line, warn with the same lines, or give the same samples at the same rate.
"""

import logging
from pathlib import Path

import numpy as np
import pytest

from stemdesk.audio import decode
from stemdesk.audio_stream import open_stream
from stemdesk.errors import StemdeskError
from tests.hostile.corpus import CASES


def whole(path: Path) -> tuple[np.ndarray, int]:
    audio = decode(path)
    return audio.samples, audio.rate


def block_by_block(path: Path) -> tuple[np.ndarray, int]:
    stream = open_stream(path)
    blocks = list(stream.blocks())
    assert all(block.dtype == np.float32 and block.flags.c_contiguous and block.shape[0] == stream.channels
               for block in blocks)
    samples = np.concatenate(blocks, axis=1)
    assert samples.shape[1] == stream.length
    assert stream.peak == float(np.abs(samples).max())
    return samples, stream.rate


def outcome(read, path: Path, caplog) -> tuple:
    """("error", line) or ("audio", samples, rate), and the warnings logged meanwhile."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="stemdesk"):
        try:
            result = ("audio", *read(path))
        except StemdeskError as error:
            result = ("error", str(error))
    return result, [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_block_decoding_fails_warns_and_reads_as_decode_does(tmp_path, case, caplog, capfd):
    song = case.make(tmp_path)
    (expected, expected_warnings), (got, got_warnings) = (outcome(read, song, caplog)
                                                          for read in (whole, block_by_block))
    assert got[0] == expected[0], (expected, got)
    if got[0] == "error":
        assert got[1] == expected[1]
    else:
        assert got[2] == expected[2] and np.array_equal(got[1], expected[1])
    assert got_warnings == expected_warnings
    if case.outcome == "warn":
        assert len(got_warnings) == 1
    # Nothing from the C libraries (libmpg123's notes) on the terminal, by either.
    assert capfd.readouterr().err == ""
