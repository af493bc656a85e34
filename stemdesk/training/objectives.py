"""What a network's estimate is trained to match, per time-frequency bin.

* ``"magnitude"``: the target's magnitude ``|S|``. A mask model so learns ``|S| / |X|``
  (clipped to one), and the best such mask scores like the power-1 ratio mask.
* ``"phase-sensitive"``: the part of the target in phase with the mixture,
  ``|S| cos(angle(S) - angle(X))``, clipped to ``[0, |X|]`` (Erdogan et al., ICASSP
  2015, "phase-sensitive approximation"). A real mask applied to the mixture's STFT
  can only scale it; the mask this target teaches, ``Re(S / X)`` clipped to [0, 1],
  is the one whose masked mixture is nearest the target in the complex plane. It
  lowers the mask where the target and the rest cancel, which a magnitude target
  cannot see. Its oracle scores above the power-1 ratio mask's (models/MODELS.md,
  "Second stage": the ceilings on htdemucs' "other").

The engine is the same for both (a mask times the mixture's STFT); only training differs.
"""

import torch

from stemdesk.errors import StemdeskError
from stemdesk.training.chunk_dataset import MagnitudeSpectrogram

#: Each objective, and what a model card says its estimate was fitted to.
FITTED = {
    "magnitude": "magnitudes",
    "phase-sensitive": "phase-sensitive magnitudes (the target's part in phase with the mix)",
}
OBJECTIVES = tuple(FITTED)


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise StemdeskError(f"Unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def training_pair(
    spectrogram: MagnitudeSpectrogram, mixture: torch.Tensor, target: torch.Tensor, objective: str = "magnitude"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveforms ``(batch, channels, samples)`` -> the network's input and what its
    estimate should be: float32 ``(batch, channels, frames, bins)`` each."""
    if objective == "magnitude":
        return spectrogram(mixture), spectrogram(target)
    check_objective(objective)
    mixture_spec, target_spec = spectrogram.spectrum(mixture), spectrogram.spectrum(target)
    magnitude = mixture_spec.abs()
    # Re(S conj(X)) / |X| = |S| cos(angle(S) - angle(X)); a silent bin (|X| = 0) has no target in phase with it.
    in_phase = (target_spec * mixture_spec.conj()).real / magnitude.clamp_min(1e-12)
    return magnitude, torch.minimum(in_phase.clamp_min(0.0), magnitude)
