"""Song files made from the demo song for the window's tests."""

from pathlib import Path

import numpy as np
import soundfile

from stemdesk.audio import Audio


def write_wav(path: Path, audio: Audio) -> Path:
    """``audio`` as a float WAV file at ``path`` (decodes back sample for sample)."""
    soundfile.write(path, audio.samples.T, audio.rate, subtype="FLOAT")
    return path


def tiled(audio: Audio, times: int) -> Audio:
    """``audio`` played ``times`` times in a row: a longer real song, several chunks long."""
    return Audio(np.tile(audio.samples, (1, times)), audio.rate)
