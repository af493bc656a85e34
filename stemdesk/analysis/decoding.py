"""Beats, meter and downbeats decoded from frame-wise activations by hidden Markov models.

Beats: the bar-pointer idea of Whiteley, Cemgil and Godsill (2006) in the compact
state space of Krebs, Böck and Widmer (ISMIR 2015). A hidden state is a tempo (a
beat interval of ``I`` frames) and a position ``0..I-1`` within the beat; each frame
the position moves on by one, and only from a beat's last position may the tempo
change, to a nearby one (probability falling exponentially with the relative
change of interval). The beat activation is the observation: likely near position
0, unlikely elsewhere. The Viterbi path is the steadiest sequence of beats that
explains the activation: a tempo octave or a 3:2 level explains it worse, because
its extra (or missing) beats land where the activation says there are none.

The Viterbi recursion is vectorised over states and written here because the
transition matrix is structured (one predecessor per state, except at beat starts):
librosa's dense ``sequence.viterbi`` would need ``states**2`` (some 10^7) entries.

Meter and downbeats: over the decoded beats, the downbeat activation at each beat
is scored for every meter and phase (a downbeat every ``meter`` beats from ``phase``);
the most likely (meter, phase) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

#: Relative change of beat interval whose transition is e times less likely (Krebs et al.'s lambda).
TEMPO_CHANGE = 100.0
#: Frames either side of a beat where the activation counts as the beat's (the network
#: was trained to mark a beat's frame and, at half weight, its neighbours).
BEAT_REACH = 1
#: The prior the network's posterior is divided by: a frame marked at this probability
#: neither calls for a beat nor against one. About the share of frames the network
#: learnt to mark as (near) beats; chosen on the validation songs (16 renders kept out
#: of training): at 0.05-0.1 slow songs came out at double tempo, 0.2-0.5 did about as
#: well; of those, the lowest, since on a recorded song (the demo) the network marked only
#: every other beat and from 0.3 up the path followed it to half tempo.
BEAT_SHARE = 0.2
#: Centre and width (octaves) of the log-normal tempo prior, paid on every beat: of two
#: tempo octaves that explain the activation about as well, the one nearer 115 bpm wins.
PRIOR_BPM, PRIOR_OCTAVES = 115.0, 0.7
#: How strongly the beat times resist a change of beat period from one beat to the next.
SMOOTHING = 30.0
METERS = (2, 3, 4)
#: Log-prior of each meter per bar: most music is in 4, 3 next; 2 must win clearly.
METER_PRIOR = {2: -0.25, 3: -0.1, 4: 0.0}
#: Activation under which a beat at the start or end of the song is in silence.
AUDIBLE = 0.05
_TINY = 1e-6


@dataclass(frozen=True)
class BeatStateSpace:
    """Tempo and in-beat position states.

    ``intervals`` int ``(tempi,)`` frames per beat, increasing; the states of tempo ``k``
    are ``starts[k] .. starts[k] + intervals[k] - 1`` (position 0 first).
    """

    intervals: np.ndarray
    starts: np.ndarray

    @classmethod
    def for_tempi(cls, fps: float, min_bpm: float, max_bpm: float) -> BeatStateSpace:
        """Every whole number of frames a beat between ``max_bpm`` and ``min_bpm``."""
        intervals = np.arange(int(np.floor(60.0 * fps / max_bpm)), int(np.ceil(60.0 * fps / min_bpm)) + 1)
        starts = np.concatenate([[0], np.cumsum(intervals)[:-1]])
        return cls(intervals, starts)

    @property
    def size(self) -> int:
        return int(self.intervals.sum())

    @property
    def ends(self) -> np.ndarray:
        return self.starts + self.intervals - 1

    def offsets(self) -> np.ndarray:
        """Each state's position within its beat in frames, int ``(states,)``."""
        return np.arange(self.size) - np.repeat(self.starts, self.intervals)

    def tempo_of(self, states: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, states, side="right") - 1


def decode_beats(activation: np.ndarray, fps: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Beat times (float64 ``(beats,)`` seconds) of a beat activation (``(frames,)``, 0..1).

    Each decoded beat is moved to the activation's peak within its beat region, to a
    fraction of a frame (the vertex of the parabola through the peak and its neighbours),
    and the peaks are smoothed (:func:`smoothed`): a frame is 11.6 ms, and a tempo read
    off peaks quantised to frames would be off by a few tenths of a percent.
    """
    space = BeatStateSpace.for_tempi(fps, min_bpm, max_bpm)
    path = _viterbi(np.clip(activation.astype(np.float64), _TINY, 1 - _TINY), space, fps)
    frames = np.flatnonzero(path == space.starts[space.tempo_of(path)])
    if len(frames) == 0:
        return np.empty(0)
    peaks = np.array([_peak(activation, frame, BEAT_REACH) for frame in frames])
    strength = activation[np.round(peaks).astype(int).clip(0, len(activation) - 1)].astype(np.float64)
    # The path runs on through a song's silent intro and coda: its beats there are no beats.
    # A quiet beat inside the song (a break) stays, placed by the path's steady tempo.
    heard = np.flatnonzero(strength > AUDIBLE)
    if len(heard) == 0:
        return np.empty(0)
    peaks, strength = peaks[heard[0] : heard[-1] + 1], strength[heard[0] : heard[-1] + 1]
    if len(peaks) < 3:
        return peaks / fps
    return smoothed(peaks, strength) / fps


def smoothed(peaks: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Beat frames (float ``(n,)``, n >= 3) fitted by a robust, weighted Whittaker smoother:
    close to the peaks, weighted by their ``strength``, with a penalty on changes of the
    beat period; peaks far off the smooth line (a fill, a flam) are downweighted in turn."""
    n = len(peaks)
    second_difference = scipy.sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    penalty = SMOOTHING * (second_difference.T @ second_difference)
    period = float(np.median(np.diff(peaks)))
    # A beat without a peak (a break) keeps, faintly, the frame the path gave it.
    confidence = strength + 1e-3
    weights = confidence
    for _ in range(3):
        fitted = scipy.sparse.linalg.spsolve((scipy.sparse.diags(weights) + penalty).tocsc(), weights * peaks)
        residual = (peaks - fitted) / max(0.02 * period, 0.5)
        weights = confidence / (1.0 + residual**2)
    return fitted


def _viterbi(activation: np.ndarray, space: BeatStateSpace, fps: float) -> np.ndarray:
    """The most likely state per frame, int ``(frames,)``."""
    offset = space.offsets()
    in_beat = (offset <= BEAT_REACH) | (offset >= np.repeat(space.intervals, space.intervals) - BEAT_REACH)
    # The activation is the network's P(beat) per frame: a frame the path calls a beat
    # is explained by it, any other frame by its complement, at every tempo alike.
    # Divided by its prior, the posterior becomes a scaled likelihood (the hybrid
    # network/HMM rule).
    on_beat, off_beat = np.log(activation / BEAT_SHARE), np.log((1 - activation) / (1 - BEAT_SHARE))
    ratio = space.intervals[None, :] / space.intervals[:, None]
    change = -TEMPO_CHANGE * np.abs(ratio - 1)
    change -= np.log(np.exp(change).sum(axis=1, keepdims=True))
    bpm = 60.0 * fps / space.intervals
    change -= 0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES)[None, :] ** 2
    starts, ends = space.starts, space.ends
    back = np.empty((len(activation), len(starts)), dtype=np.int16)
    score = np.where(in_beat, on_beat[0], off_beat[0]) - np.log(space.size)
    for frame in range(1, len(activation)):
        # From the end of a beat (rows: tempo before, columns: tempo after) to a new beat.
        candidates = score[ends][:, None] + change
        best = np.argmax(candidates, axis=0)
        shifted = np.empty_like(score)
        shifted[1:] = score[:-1]
        shifted[starts] = candidates[best, np.arange(len(starts))]
        back[frame] = best
        score = shifted + np.where(in_beat, on_beat[frame], off_beat[frame])
    path = np.empty(len(activation), dtype=np.int64)
    state = int(np.argmax(score))
    tempo = space.tempo_of(np.array([state]))[0]
    for frame in range(len(activation) - 1, 0, -1):
        path[frame] = state
        if state == starts[tempo]:
            tempo = int(back[frame, tempo])
            state = int(ends[tempo])
        else:
            state -= 1
    path[0] = state
    return path


def _peak(values: np.ndarray, frame: int, reach: int) -> float:
    """The (fractional) frame of the highest value within ``reach`` frames of ``frame``."""
    low, high = max(frame - reach, 1), min(frame + reach + 1, len(values) - 1)
    if high <= low:
        return float(frame)
    peak = low + int(np.argmax(values[low:high]))
    left, centre, right = values[peak - 1], values[peak], values[peak + 1]
    curvature = left - 2 * centre + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return peak + float(np.clip(offset, -0.5, 0.5))


def decode_meter(beats: np.ndarray, downbeat: np.ndarray, fps: float) -> tuple[int, int]:
    """``(meter, first_downbeat)`` for ``beats`` (seconds, ``(n,)``) from the downbeat
    activation (``(frames,)``, 0..1): the meter and phase whose downbeats the activation
    explains best (log-likelihood per beat, plus each meter's prior per bar)."""
    frames = np.clip(np.round(beats * fps).astype(int), 0, len(downbeat) - 1)
    window = np.clip(frames[:, None] + np.arange(-2, 3)[None, :], 0, len(downbeat) - 1)
    at_beat = np.clip(downbeat[window].max(axis=1).astype(np.float64), _TINY, 1 - _TINY)
    is_down, is_not = np.log(at_beat), np.log(1 - at_beat)
    best, best_score = (4, 0), -np.inf
    for meter in METERS:
        for phase in range(meter):
            marked = np.zeros(len(beats), dtype=bool)
            marked[phase::meter] = True
            score = (np.where(marked, is_down, is_not).sum() + METER_PRIOR[meter] * marked.sum()) / len(beats)
            if score > best_score:
                best, best_score = (meter, phase), score
    return best
