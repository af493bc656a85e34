"""Beat and downbeat activations of a song from the shipped beat network (ONNX Runtime).

The network (a temporal convolutional network trained on songs the synth engine
rendered, whose every beat and bar it knows; see ``resources/beats/beat-tcn.md``)
reads the mix's log-mel spectrogram and its rise from frame to frame, and gives
for every frame the probability that a beat and that a downbeat falls on it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from stemdesk import PROJECT_ROOT
from stemdesk.errors import StemdeskError

BEAT_NETWORK = PROJECT_ROOT / "resources" / "beats" / "beat-tcn.onnx"
#: The floor of the log-mel spectrogram (dB below its loudest bin), as librosa's ``top_db``.
FLOOR_DB = 80.0


def network_input(spectrum: np.ndarray) -> np.ndarray:
    """The network's input ``(2 * mels, frames)`` float32 from a log-mel spectrogram
    ``(mels, frames)`` in dB below its loudest bin: the level scaled to 0..1 and its
    positive difference to the previous frame (the onsets)."""
    level = np.clip(spectrum, -FLOOR_DB, 0.0) / FLOOR_DB + 1.0
    rise = np.maximum(np.diff(level, axis=1, prepend=level[:, :1]), 0.0)
    return np.concatenate([level, rise]).astype(np.float32)


def beat_activations(spectrum: np.ndarray, network: Path = BEAT_NETWORK) -> np.ndarray:
    """Beat and downbeat probabilities, float32 ``(2, frames)``, of a log-mel spectrogram
    ``(mels, frames)`` (see :func:`network_input`); row 0 beats, row 1 downbeats."""
    session = _session(str(network))
    name = session.get_inputs()[0].name
    (output,) = session.run(None, {name: network_input(spectrum)[None]})
    return output[0].astype(np.float32)


@lru_cache(maxsize=2)
def _session(path: str) -> ort.InferenceSession:
    if not Path(path).is_file():
        raise StemdeskError(f"the beat network is missing: {path}")
    options = ort.SessionOptions()
    # A small network: one thread runs it in a fraction of a second and leaves the other
    # cores to the separation or playback the analysis runs beside.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
