"""Score a model on the songs of a dataset, next to the identity and oracle estimates."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stemdesk.audio import Audio
from stemdesk.datasets import Track, mixture_audio, stems_audio
from stemdesk.separators import StemSeparator

from .metrics import bss_eval, global_sdr
from .references import model_references, oracle_ratio_mask

log = logging.getLogger(__name__)

#: The estimates scored for every stem: the model's, and the two that frame it.
METHODS = ("model", "identity", "oracle")
METRICS = ("sdr", "sir", "sar", "global_sdr")


@dataclass(frozen=True)
class StemScore:
    """One stem of one song separated one way, in dB.

    ``sdr``/``sir``/``sar`` are BSS Eval v4 medians over 1 s windows (NaN
    when every window was silent); ``global_sdr`` is the MDX challenges' SDR.
    """

    track: str
    stem: str
    method: str
    sdr: float
    sir: float
    sar: float
    global_sdr: float


def excerpt(samples: np.ndarray, length: int | None) -> np.ndarray:
    """The middle ``length`` samples of ``(..., samples)`` (all of them when shorter or None).

    The middle rather than the start: songs often open with a few
    instruments alone, which says little about separating the full band.
    """
    total = samples.shape[-1]
    if length is None or total <= length:
        return samples
    start = (total - length) // 2
    return samples[..., start : start + length]


def song_excerpt(track: Track, rate: int, seconds: float | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The song's stems and mixture at ``rate``, cut to their middle ``seconds`` (None:
    whole), float32 ``(channels, samples)`` each, all of one shape. The stems are its
    classes' and its substems (the lead guitar inside "guitar"), which overlap them."""
    length = None if seconds is None else max(1, round(seconds * rate))
    stems = {name: audio.samples for name, audio in stems_audio(track, rate, substems=True).items()}
    mixture = mixture_audio(track, rate).samples
    # Channel counts and lengths of a dataset's files may disagree slightly
    # (a mono stem, an encoder's padding): compare on what they share.
    shared = min([mixture.shape[1], *(stem.shape[1] for stem in stems.values())])
    channels = max([mixture.shape[0], *(stem.shape[0] for stem in stems.values())])
    mixture = _to_shape(excerpt(mixture[:, :shared], length), channels)
    stems = {name: _to_shape(excerpt(stem[:, :shared], length), channels) for name, stem in stems.items()}
    return stems, mixture


def score_track(separator: StemSeparator, track: Track, seconds: float | None = None) -> list[StemScore]:
    """Scores of every model stem that can be compared on ``track``; empty when none can.

    The song is read at the model's rate and cut to its middle ``seconds``
    before separating, so the excerpt's length bounds the time spent.
    """
    rate = separator.card.sample_rate
    stems, mixture = song_excerpt(track, rate, seconds)
    references = model_references(separator.stems, stems, mixture, track.not_separated)
    if not references:
        log.info("%s: no stem of the model can be compared on this song", track.name)
        return []
    names = list(references)
    truth = np.stack([references[name] for name in names])
    separated = separator.separate(Audio(mixture, rate))
    estimates = {
        "model": np.stack([separated[name].samples for name in names]),
        "identity": np.broadcast_to(mixture, truth.shape),
        "oracle": oracle_ratio_mask(truth, mixture, separator.card),
    }
    scores = []
    for method in METHODS:
        bss = bss_eval(truth, estimates[method], rate)
        for index, name in enumerate(names):
            scores.append(StemScore(
                track=track.name, stem=name, method=method,
                sdr=float(bss.sdr[index]), sir=float(bss.sir[index]), sar=float(bss.sar[index]),
                global_sdr=global_sdr(truth[index], estimates[method][index]),
            ))
    return scores


def score_dataset(
    separator: StemSeparator,
    tracks: list[Track],
    seconds: float | None = None,
    progress: Callable[[int, int, Track], None] | None = None,
) -> list[StemScore]:
    """:func:`score_track` for each song; ``progress(done, total, track)`` after each."""
    scores: list[StemScore] = []
    for done, track in enumerate(tracks, start=1):
        scores.extend(score_track(separator, track, seconds))
        if progress is not None:
            progress(done, len(tracks), track)
    return scores


def medians(scores: list[StemScore]) -> dict[str, dict[str, dict[str, float]]]:
    """``{stem: {method: {metric: median over songs}}}``, ignoring NaN; stems in first-seen order.

    The SiSEC convention: a song's score is the median over its windows, a
    model's the median over songs. This is the dict the training side writes
    into a model card's ``metrics``.
    """
    table: dict[str, dict[str, dict[str, float]]] = {}
    for stem in dict.fromkeys(score.stem for score in scores):
        table[stem] = {}
        for method in METHODS:
            rows = [score for score in scores if score.stem == stem and score.method == method]
            table[stem][method] = {metric: _median([getattr(row, metric) for row in rows]) for metric in METRICS}
    return table


def _median(values: list[float]) -> float:
    kept = [value for value in values if not math.isnan(value)]
    return float(np.median(kept)) if kept else math.nan


def _to_shape(samples: np.ndarray, channels: int) -> np.ndarray:
    """``(c, n)`` -> ``(channels, n)``, spreading mono over every channel."""
    return np.ascontiguousarray(np.broadcast_to(samples, (channels, samples.shape[1])), dtype=np.float32)
