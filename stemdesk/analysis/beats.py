"""Beats, tempo, meter and downbeats of a song, from its audio (and its stems when there are some).

The pipeline, on a 22.05 kHz mono mix at 11.6 ms frames:

1. a log-mel spectrogram (librosa);
2. beat and downbeat activations from the shipped beat network
   (:mod:`stemdesk.analysis.activation`); when a model gave "drums" and "bass" stems,
   the network also hears the two together, and the two activations are averaged:
   the rhythm section alone has no vocals or pads to blur its beat;
3. the beats decoded from the beat activation by a hidden Markov model over tempo and
   position in the beat (:func:`stemdesk.analysis.decoding.decode_beats`), which
   follows slow tempo changes and chooses the tempo octave the activation explains best;
4. meter and downbeat phase from the downbeat activation at the decoded beats
   (:func:`stemdesk.analysis.decoding.decode_meter`).
"""

from __future__ import annotations

from collections.abc import Mapping

import librosa
import numpy as np

from stemdesk.analysis.activation import beat_activations
from stemdesk.analysis.decoding import decode_beats, decode_meter
from stemdesk.analysis.features import FPS, log_mel, mel_power, mono
from stemdesk.analysis.grid import BeatGrid
from stemdesk.audio import Audio

MIN_BPM, MAX_BPM = 50.0, 220.0
#: Frame energy (dB below the song's loudest frame) under which a beat is in silence.
SILENCE_DB = -60.0
#: The shortest song (seconds) worth a grid.
MIN_SECONDS = 4.0


def analyse_beats(audio: Audio, stems: Mapping[str, Audio] | None = None) -> BeatGrid:
    """The beat grid of ``audio`` (any rate, ``(channels, samples)``), in song time.

    ``stems`` (name -> Audio of the same shape, e.g. a model's separation) are used
    where they help: "drums" and "bass" together are a second view of the rhythm (see
    the module docstring). A song too short or too quiet to have a beat gives a grid
    without beats.
    """
    duration = audio.num_samples / audio.rate
    power = mel_power(mono(audio))
    loudness = librosa.power_to_db(power.sum(axis=0), ref=np.max)
    if power.shape[1] < MIN_SECONDS * FPS or not np.any(power > 0):
        return BeatGrid(np.empty(0), 4, 0, duration)
    activations = beat_activations(librosa.power_to_db(power, ref=np.max))
    rhythm = [stems[name].samples for name in ("drums", "bass") if stems and name in stems]
    if rhythm:
        section = beat_activations(log_mel(mono(Audio(np.sum(rhythm, axis=0), audio.rate))))
        frames = min(activations.shape[1], section.shape[1])
        activations = (activations[:, :frames] + section[:, :frames]) / 2
    beats = decode_beats(activations[0], FPS, MIN_BPM, MAX_BPM)
    beats = _within_sound(beats[(beats >= 0) & (beats <= duration)], loudness)
    if len(beats) < 2:
        return BeatGrid(beats, 4, 0, duration)
    meter, first = decode_meter(beats, activations[1], FPS)
    return BeatGrid(beats, meter, first, duration)


def _within_sound(beats: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """``beats`` without those in the silence before the song starts or after it ends,
    ``loudness`` being each frame's energy in dB below the loudest, ``(frames,)``."""
    frames = np.clip(np.round(beats * FPS).astype(int), 0, len(loudness) - 1)
    reach = int(0.1 * FPS)
    window = np.clip(frames[:, None] + np.arange(-reach, reach + 1)[None, :], 0, len(loudness) - 1)
    audible = np.flatnonzero(loudness[window].max(axis=1) > SILENCE_DB)
    return beats[audible[0] : audible[-1] + 1] if len(audible) else beats[:0]
