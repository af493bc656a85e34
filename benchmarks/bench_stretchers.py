"""Signalsmith Stretch (python-stretch, MIT) against Rubber Band (pylibrb, GPL): quality and cost.

Both stretch the same synthetic signals, whose ideal stretched version is known exactly
because they are synthesised: a melody of harmonic notes (3 partials, plucked envelope)
rendered again with each note 1/tempo as long and every frequency times the pitch factor.

Measured per stretcher and case (tempo, semitones), stereo 44.1 kHz:
- pitch error: cents between the strongest partial of a steady 440 Hz harmonic tone after
  stretching and 440 * 2 ** (semitones / 12);
- spectral error: mean absolute difference in dB between the log-magnitude spectrogram
  (4096-point frames, 0-8 kHz, floor 60 dB below the peak) of the stretched melody and
  that of the ideal melody;
- jump: the largest step between neighbouring samples of a stretched pure sine over the
  largest step the ideal sine has (1.0 for a clean stream; a splice or phase jump at a
  block boundary shows as several times that);
- cost: CPU seconds per second of audio, block by block (512 frames) as the player's
  render thread runs it; Signalsmith's one-shot mode processes the whole signal at once.

Signalsmith runs twice: one call for the whole signal (the offline use python-stretch
supports) and 512-frame blocks (what a player needs: python-stretch 0.3.1's `process`
seeks, flushes and resets on every call, so each block is a separate render).

    python benchmarks/bench_stretchers.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.signal

RATE = 44100
BLOCK = 512
NOTE_SECONDS = 0.25
MELODY_HZ = (220.0, 277.2, 329.6, 440.0, 392.0, 293.7, 246.9, 349.2)


def harmonic(freq: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """3 partials of an instantaneous frequency `freq` (Hz per sample): float64 (n,)."""
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return amplitude * sum(0.5 / k * np.sin(k * phase) for k in (1, 2, 3))


def melody(seconds: float, note_seconds: float, pitch: float) -> np.ndarray:
    """The test melody as stereo float32 (2, n): notes of `note_seconds`, frequencies * pitch."""
    n = int(seconds * RATE)
    note = (np.arange(n) / RATE / note_seconds).astype(int)
    freq = np.asarray(MELODY_HZ)[note % len(MELODY_HZ)] * pitch
    age = (np.arange(n) / RATE) % note_seconds
    envelope = np.exp(-age / (0.4 * note_seconds)) * np.minimum(1.0, age / 0.005)
    mono = harmonic(freq, envelope)
    return np.stack([mono, 0.8 * mono]).astype(np.float32)


def tone(seconds: float, freq: float, partials: bool = True) -> np.ndarray:
    n = int(seconds * RATE)
    f = np.full(n, freq)
    mono = harmonic(f, np.ones(n)) if partials else 0.5 * np.sin(2 * np.pi * freq * np.arange(n) / RATE)
    return np.stack([mono, mono]).astype(np.float32)


class RubberBand:
    """stemdesk's own stretcher (Rubber Band real-time), with a choice of engine options."""

    def __init__(self, name: str, extra_options: int | None = None):
        self.name = name
        self.extra = extra_options

    def run(self, audio: np.ndarray, tempo: float, pitch: float) -> np.ndarray:
        from stemdesk.playback.stretcher import Stretcher

        stretcher = Stretcher(RATE, audio.shape[0], BLOCK)
        if self.extra is not None:
            # Same wrapper, other engine settings: rebuild its Rubber Band with them.
            import pylibrb

            option = pylibrb.Option
            options = option.PROCESS_REALTIME | option.PitchHighConsistency | option.CHANNELS_TOGETHER | self.extra
            stretcher._rb = pylibrb.RubberBandStretcher(RATE, audio.shape[0], options, 1.0, 1.0)
            stretcher._rb.set_max_process_size(BLOCK)
        stretcher.set_tempo(tempo)
        stretcher.set_pitch(pitch)
        stretcher.reset()
        out = []
        for start in range(0, audio.shape[1], BLOCK):
            stretcher.process(audio[:, start : start + BLOCK])
            out.append(stretcher.retrieve())
        return np.concatenate(out, axis=1)


class Signalsmith:
    """python-stretch's Stretch: the whole signal in one call, or block by block."""

    def __init__(self, name: str, block: int | None):
        self.name = name
        self.block = block

    def run(self, audio: np.ndarray, tempo: float, pitch: float) -> np.ndarray:
        from python_stretch.Signalsmith import Stretch

        stretch = Stretch()
        stretch.preset(audio.shape[0], RATE)
        stretch.setTimeFactor(tempo)
        stretch.setTransposeFactor(pitch)
        if self.block is None:
            return stretch.process(audio)
        return np.concatenate(
            [stretch.process(np.ascontiguousarray(audio[:, s : s + self.block]))
             for s in range(0, audio.shape[1], self.block)], axis=1)


def peak_cents(signal: np.ndarray, expected: float) -> float:
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    freq = (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / signal.size
    return 1200 * np.log2(freq / expected)


def log_spectrogram(signal: np.ndarray) -> np.ndarray:
    _, _, z = scipy.signal.stft(signal, RATE, nperseg=4096, noverlap=3072)
    bins = int(8000 / (RATE / 4096))
    db = 20 * np.log10(np.abs(z[:bins]) + 1e-12)
    return np.maximum(db, db.max() - 60)


def spectral_error(out: np.ndarray, ideal: np.ndarray) -> float:
    n = min(out.size, ideal.size)
    skip = int(0.5 * RATE)
    a, b = log_spectrogram(out[skip : n - skip]), log_spectrogram(ideal[skip : n - skip])
    return float(np.mean(np.abs(a - b)))


def measure(stretcher, tempo: float, semitones: float, seconds: float) -> dict[str, float]:
    pitch = 2 ** (semitones / 12)
    steady = stretcher.run(tone(3.0, 440.0), tempo, pitch)[0]
    cents = peak_cents(steady[RATE // 2 : RATE // 2 + (1 << 16)], 440.0 * pitch)
    sine = stretcher.run(tone(3.0, 440.0, partials=False), tempo, pitch)[0]
    ideal_step = 2 * np.pi * 440.0 * pitch * 0.5 / RATE
    jump = float(np.abs(np.diff(sine[RATE // 2 : -RATE // 2])).max() / ideal_step)
    source = melody(seconds, NOTE_SECONDS, 1.0)
    begin = time.process_time()
    out = stretcher.run(source, tempo, pitch)
    cost = (time.process_time() - begin) / seconds
    ideal = melody(seconds / tempo, NOTE_SECONDS / tempo, pitch)[0]
    return {"cents": cents, "spectral_db": spectral_error(out[0], ideal), "jump": jump, "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the melody")
    args = parser.parse_args()
    import pylibrb

    option = pylibrb.Option
    stretchers = [
        RubberBand("rubberband R3 (stemdesk)"),
        RubberBand("rubberband R3 short window", option.ENGINE_FINER | option.WINDOW_SHORT),
        RubberBand("rubberband R2 faster", option.ENGINE_FASTER),
        Signalsmith("signalsmith one call", None),
        Signalsmith("signalsmith 512 blocks", BLOCK),
    ]
    cases = [(0.7, -3.0), (0.5, 0.0), (1.0, 2.0), (1.5, 0.0)]
    print(f"{args.seconds:g} s stereo melody at {RATE} Hz; pitch error in cents, spectral error in dB,")
    print("jump = largest sample step / ideal (1 = clean), cost = CPU s per s of audio")
    print(f"{'stretcher':<28} {'tempo':>5} {'semi':>5} {'cents':>7} {'spec dB':>8} {'jump':>6} {'cost':>6}")
    for tempo, semitones in cases:
        for stretcher in stretchers:
            m = measure(stretcher, tempo, semitones, args.seconds)
            print(f"{stretcher.name:<28} {tempo:>5.2f} {semitones:>+5.0f} {m['cents']:>+7.2f} "
                  f"{m['spectral_db']:>8.2f} {m['jump']:>6.2f} {m['cost']:>6.3f}")


if __name__ == "__main__":
    main()
