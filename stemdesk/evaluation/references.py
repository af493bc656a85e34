"""What each model stem is compared with, and the two reference estimates.

A model stem named like a stemdesk class is compared with that class's
stem, one named like a substem (the lead guitar) with that substem, where the
song has it; a model "other" with everything the model does not separate; the one
other-named stem of a single-target model (Spleeter's "accompaniment", a
trained model's "rest") with the mixture minus the target. Two estimates
frame a model's score: the identity (the mixture itself, what doing nothing
scores) and the oracle ratio mask (the best any mask on the model's STFT can
do, computed from the true stems).

Signals are float32 ``(channels, samples)``; sets of sources
``(sources, channels, samples)``.
"""

from __future__ import annotations

import numpy as np

from stemdesk import dsp
from stemdesk.instruments import CLASSES, class_of_stem
from stemdesk.models import ModelCard

# Quieter than the least significant bit of 16-bit audio: such a reference
# has nothing to separate, and any SDR on it would be noise.
SILENT_PEAK = 2.0**-15


def model_references(
    model_stems: tuple[str, ...],
    stems: dict[str, np.ndarray],
    mixture: np.ndarray,
    not_separated: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """The true signal for each model stem that can be scored on this song.

    Args:
        model_stems: the card's stem names.
        stems: the song's class stems and the substems it has, each
            ``(channels, samples)``; a class not here is silence, unless
            ``not_separated`` lists it; a substem not here is not scored.
        mixture: ``(channels, samples)``, same shape as each stem.
        not_separated: classes the song mixes into its "other" stem.

    Returns:
        model stem -> reference, in the card's order. Left out: stems whose
        class is not separated in this song (or, for "other", when it hides a
        class the model separates), substems the song does not have, stems
        whose reference is silent, and the rest of a single target that is left out.
    """
    targets = [stem for stem in model_stems if class_of_stem(stem) is not None]
    hidden = set(not_separated)
    found: dict[str, np.ndarray] = {}
    for stem in targets:
        if stem == "other":
            reference = None if hidden & {class_of_stem(target) for target in targets} else _unseparated(stems, targets)
        else:
            reference = None if class_of_stem(stem) in hidden else stems.get(stem)
        if _audible(reference):
            found[stem] = reference
    complements = [stem for stem in model_stems if class_of_stem(stem) is None]
    # The rest of a single target. With the target silent, BSS Eval would
    # leave out every window anyway, and the identity would be perfect.
    if len(targets) == 1 and len(complements) == 1 and targets[0] in found:
        rest = mixture - found[targets[0]]
        if _audible(rest):
            found[complements[0]] = rest
    return {stem: found[stem] for stem in model_stems if stem in found}


def _unseparated(stems: dict[str, np.ndarray], targets: list[str]) -> np.ndarray | None:
    """What a model "other" holds: the classes no other target is, less the substems taken
    out of them (the rhythm guitar is "other" to a lead-guitar model); None for nothing."""
    left = [name for name in stems if name in CLASSES and (name not in targets or name == "other")]
    if not left:
        return None
    rest = np.sum([stems[name] for name in left], axis=0)
    for name in targets:
        if name in stems and name not in CLASSES and class_of_stem(name) in left:
            rest = rest - stems[name]
    return rest


def _audible(reference: np.ndarray | None) -> bool:
    return reference is not None and float(np.max(np.abs(reference))) >= SILENT_PEAK


def oracle_ratio_mask(references: np.ndarray, mixture: np.ndarray, card: ModelCard) -> np.ndarray:
    """Each reference as the best ratio mask on the model's STFT would extract it.

    ``mask_i = |S_i|^p / sum_j |S_j|^p`` with ``p`` the card's ``mask_power``,
    over every frequency bin, applied to the mixture's STFT. The sources j
    are the references plus whatever of the mixture they leave out, so the
    masks sum to one as the engine's do.

    Args:
        references: ``(sources, channels, samples)`` at the card's rate.
        mixture: ``(channels, samples)``.

    Returns:
        float32 ``(sources, channels, samples)``.
    """
    return ratio_masked(references, mixture, card.n_fft, card.hop_length, card.mask_power)


def ratio_masked(references: np.ndarray, mixture: np.ndarray, n_fft: int, hop: int, power: float) -> np.ndarray:
    """:func:`oracle_ratio_mask` on a given STFT and mask power; shapes as there."""
    window = dsp.hann_window(n_fft)
    residual = mixture - references.sum(axis=0)
    sources = np.concatenate([references, residual[None]])
    magnitudes = np.abs(np.stack([dsp.stft(source, n_fft, hop, window) for source in sources]))
    masks = dsp.normalise_masks(magnitudes, power)
    mixture_spec = dsp.stft(mixture, n_fft, hop, window)
    length = mixture.shape[-1]
    return np.stack([
        dsp.istft(dsp.apply_mask(mixture_spec, mask), n_fft, hop, window, length) for mask in masks[: len(references)]
    ])


def phase_sensitive_masked(references: np.ndarray, mixture: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Each reference as the best real mask in [0, 1] on this STFT would extract it:
    ``Re(S_i / X)`` clipped to [0, 1] (the truncated phase-sensitive mask, what
    ``--objective phase-sensitive`` teaches a network). Shapes as :func:`oracle_ratio_mask`.
    """
    window = dsp.hann_window(n_fft)
    mixture_spec = dsp.stft(mixture, n_fft, hop, window)
    power = np.maximum(np.abs(mixture_spec) ** 2, np.finfo(np.float32).tiny)
    length = mixture.shape[-1]
    estimates = []
    for reference in references:
        mask = np.clip(np.real(dsp.stft(reference, n_fft, hop, window) * np.conj(mixture_spec)) / power, 0.0, 1.0)
        estimates.append(dsp.istft(mask * mixture_spec, n_fft, hop, window, length))
    return np.stack(estimates).astype(np.float32)
