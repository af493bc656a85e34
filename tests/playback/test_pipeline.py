"""RenderPipeline on real signals: tempo and pitch through Rubber Band, song-time labels,
ramps, click, count-in and speed trainer -- the same object the player's render thread runs."""

import numpy as np
import pytest

from stemdesk.errors import StemdeskError
from stemdesk.playback.click import BeatGrid
from stemdesk.playback.mixer import Mixer
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.practice import PracticeState, SpeedTrainer

pytest.importorskip("pylibrb")

RATE = 44100


def harmonic_tone(seconds, f0=440.0, rate=RATE):
    """A 440 Hz tone with 3 harmonics (a real instrument-like spectrum), stereo float32."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in (1, 2, 3))
    return np.stack([tone, tone]).astype(np.float32)


def render_until(pipeline, stop_position, limit=4000):
    """Output audio (channels, n), positions (n,), counting (n,) until a frame reaches stop_position."""
    audio, positions, counting = [], [], []
    for _ in range(limit):
        chunk = pipeline.render()
        audio.append(chunk.audio)
        positions.append(chunk.positions)
        counting.append(chunk.counting)
        if chunk.positions.size and chunk.positions[-1] >= stop_position:
            break
    return np.concatenate(audio, axis=1), np.concatenate(positions), np.concatenate(counting)


def peak_frequency(signal, rate=RATE):
    """Frequency of the strongest partial, parabolic-interpolated on a Hann-windowed FFT."""
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / signal.size


def sounding_length(signal, threshold=0.05):
    """Frames from the first to the last sample above `threshold` of the peak."""
    loud = np.flatnonzero(np.abs(signal) > threshold * np.abs(signal).max())
    return loud[-1] - loud[0]


def pipeline_for(stems, practice, grid=None, position=0, count_in=False):
    pipeline = RenderPipeline(Mixer(stems, RATE), grid)
    pipeline.practice = practice
    pipeline.start(position, count_in)
    return pipeline


def test_half_tempo_keeps_the_pitch_and_doubles_the_length():
    song = np.concatenate([harmonic_tone(2.0), np.zeros((2, RATE), np.float32)], axis=1)
    pipeline = pipeline_for({"tone": song}, PracticeState(tempo=0.5))
    audio, positions, _ = render_until(pipeline, song.shape[1])
    assert abs(peak_frequency(audio[0, RATE : RATE + (1 << 16)]) / 440.0 - 1) < 0.005
    assert abs(sounding_length(audio[0]) / (2 * 2.0 * RATE) - 1) < 0.01
    # the playhead is in song time: the song's end comes out at twice its length
    assert abs(np.argmax(positions >= song.shape[1]) / (2 * song.shape[1]) - 1) < 0.01


def test_transpose_up_two_semitones_gives_493_9_hz_at_the_same_length():
    pipeline = pipeline_for({"tone": harmonic_tone(3.0)}, PracticeState(semitones=2))
    audio, positions, _ = render_until(pipeline, 3 * RATE)
    assert abs(peak_frequency(audio[0, RATE : RATE + (1 << 16)]) / 493.883 - 1) < 0.005
    assert abs(np.argmax(positions >= 3 * RATE) / (3 * RATE) - 1) < 0.01


def test_cents_shift_the_pitch():
    pipeline = pipeline_for({"tone": harmonic_tone(3.0)}, PracticeState(semitones=-1, cents=-50))
    audio, _, _ = render_until(pipeline, 3 * RATE)
    assert abs(peak_frequency(audio[0, RATE : RATE + (1 << 16)]) / (440 * 2 ** (-1.5 / 12)) - 1) < 0.005


def test_a_tempo_change_while_playing_ramps_without_a_step():
    t = np.arange(6 * RATE) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    pipeline = pipeline_for({"sine": sine}, PracticeState())
    before, _, _ = render_until(pipeline, 2 * RATE)
    pipeline.practice = PracticeState(tempo=0.6, semitones=1)
    ramp = []
    for _ in range(6):
        ramp.append(pipeline.tempo)
        pipeline.render()
    # the stretcher's rate went 1.0 -> 0.6 through three values between, one per chunk
    assert ramp[0] == 1.0 and ramp[4:] == [0.6, 0.6]
    assert 1.0 > ramp[1] > ramp[2] > ramp[3] > 0.6
    pipeline.practice = PracticeState()
    pipeline.start(2 * RATE)
    before, _, _ = render_until(pipeline, 2 * RATE + RATE // 2)
    pipeline.practice = PracticeState(tempo=0.6, semitones=1)
    after, positions, _ = render_until(pipeline, 4 * RATE)
    signal = np.concatenate([before, after], axis=1)[0]
    change = before.shape[1]
    around = signal[change - 4096 : change + 8192]
    # A pure sine's largest step between samples is 2 pi f A / rate; a splice or a jump
    # in phase would be up to 2 A.
    assert np.abs(np.diff(around)).max() < 1.3 * 2 * np.pi * 440 * 0.5 / RATE
    # and its loudness holds (no dip or bump) in 10 ms windows across the change
    rms = np.sqrt(np.mean(around[: around.size // 441 * 441].reshape(-1, 441) ** 2, axis=1))
    assert rms.min() > 0.8 * 0.5 / np.sqrt(2) and rms.max() < 1.2 * 0.5 / np.sqrt(2)
    # the ramp took a few chunks: the tempo moved through values between 1.0 and 0.6
    steps = np.diff(positions[positions.size // 2 :])
    assert abs(np.median(steps) - 0.6) < 0.01


def bursts(seconds, every, rate=RATE):
    """Short 2 kHz bursts every `every` seconds; returns (stereo song, burst centre samples)."""
    song = np.zeros((2, int(seconds * rate)), np.float32)
    centres = np.arange(int(0.5 * rate), song.shape[1] - rate // 2, int(every * rate))
    burst = (np.hanning(221) * np.sin(2 * np.pi * 2000 * np.arange(221) / rate)).astype(np.float32)
    for c in centres:
        song[:, c - 110 : c + 111] += burst
    return song, centres


def envelope_peak_near(signal, index, radius):
    lo = max(0, index - radius)
    return lo + int(np.argmax(np.abs(signal[lo : index + radius])))


@pytest.mark.parametrize("tempi", [(0.7, 0.7), (1.0, 0.5), (0.8, 1.5)])
def test_output_frames_carry_the_song_position_they_play(tempi):
    """Latency compensated: where a burst comes out, the label says the burst's song sample
    (within 10 ms of song time), also after a tempo change."""
    song, centres = bursts(8.0, 0.25)
    pipeline = pipeline_for({"bursts": song}, PracticeState(tempo=tempi[0]))
    first, p1, _ = render_until(pipeline, 3 * RATE)
    pipeline.practice = PracticeState(tempo=tempi[1])
    rest, p2, _ = render_until(pipeline, song.shape[1])
    audio, positions = np.concatenate([first, rest], axis=1)[0], np.concatenate([p1, p2])
    errors = []
    for centre in centres[2:-2]:
        labelled = int(np.argmax(positions >= centre))
        heard = envelope_peak_near(audio, labelled, int(0.05 * RATE))
        errors.append(positions[heard] - centre)
    assert np.max(np.abs(errors)) < 0.010 * RATE, errors


def test_seek_restarts_at_the_sample():
    song, centres = bursts(4.0, 0.5)
    pipeline = pipeline_for({"bursts": song}, PracticeState(tempo=0.8))
    render_until(pipeline, RATE)
    target = int(centres[3]) - 2000
    pipeline.start(target)
    chunk = pipeline.render()
    while not chunk.positions.size:
        chunk = pipeline.render()
    assert chunk.positions[0] == target


def click_grid(bpm=120.0, bars=8, meter=4):
    beats = np.arange(bars * meter) * 60.0 / bpm + 0.25
    return BeatGrid(beats, beats[::meter])


def onsets(signal, threshold=0.1):
    """Frames where the signal rises above `threshold` after 20 ms below it."""
    loud = np.abs(signal) > threshold
    found, last = [], -10**9
    for frame in np.flatnonzero(loud):
        if frame - last > 0.02 * RATE:
            found.append(frame)
        last = frame
    return np.array(found)


@pytest.mark.parametrize("tempo", [1.0, 0.8, 1.25])
def test_click_sits_on_the_grid_at_any_tempo_with_accented_downbeats(tempo):
    grid = click_grid()
    silence = np.zeros((2, 8 * RATE), np.float32)
    practice = PracticeState(tempo=tempo, click_db=0.0, click_muted=False)
    pipeline = pipeline_for({"song": silence}, practice, grid=grid)
    audio, positions, _ = render_until(pipeline, 6 * RATE)
    found = onsets(audio[0], threshold=1e-4)  # the song is silence: a blip's first sample
    expected = np.array([np.argmax(positions >= b * RATE) for b in grid.beats if b < 5.9])
    assert found.size == expected.size
    assert np.max(np.abs(found - expected)) <= 1  # a blip's first sample is 0 (sin 0)
    # the click keeps its sound at any tempo: 35 ms blips, 1760 Hz on downbeats, 1320 Hz else
    pitches = [peak_frequency(audio[0, f : f + 1024]) for f in found]
    assert all(abs(p - (1760 if i % 4 == 0 else 1320)) < 40 for i, p in enumerate(pitches))


def test_muted_click_is_silent_and_its_level_is_in_db():
    grid = click_grid()
    silence = np.zeros((2, 4 * RATE), np.float32)
    muted = pipeline_for({"song": silence}, PracticeState(click_muted=True), grid=grid)
    audio, _, _ = render_until(muted, 3 * RATE)
    assert np.abs(audio).max() == 0.0
    loud = pipeline_for({"song": silence}, PracticeState(click_db=0.0, click_muted=False), grid=grid)
    quiet = pipeline_for({"song": silence}, PracticeState(click_db=-12.0, click_muted=False), grid=grid)
    a_loud, _, _ = render_until(loud, 3 * RATE)
    a_quiet, _, _ = render_until(quiet, 3 * RATE)
    assert np.abs(a_quiet).max() / np.abs(a_loud).max() == pytest.approx(10 ** (-12 / 20), rel=1e-4)


def test_count_in_before_playing_lasts_its_bars_at_the_current_tempo_and_lands_on_the_sample():
    grid = click_grid(bpm=100.0)
    song, centres = bursts(4.0, 0.5)
    start = int(centres[2]) - 1000
    tempo = 0.8
    practice = PracticeState(tempo=tempo, count_in_bars=2, click_db=0.0)
    pipeline = pipeline_for({"song": song}, practice, grid=grid, position=start, count_in=True)
    audio, positions, counting = render_until(pipeline, start + RATE)
    count_in_frames = 2 * 4 * 60.0 / 100.0 * RATE / tempo
    first_song = int(np.argmax(~counting))
    assert abs(first_song - count_in_frames) <= 1
    assert positions[first_song] == start
    assert np.all(positions[:first_song] == start)  # the playhead waits where the song resumes
    # 8 count-in clicks (click strip muted: the count-in still clicks), one beat apart
    clicks = onsets(audio[0, :first_song])
    assert clicks.size == 8
    np.testing.assert_allclose(np.diff(clicks), 60.0 / 100.0 * RATE / tempo, atol=2)
    # the song's next burst comes out where its label says
    heard = envelope_peak_near(audio[0], int(np.argmax(positions >= centres[2])), 2000)
    assert abs(positions[heard] - centres[2]) < 0.01 * RATE


def test_count_in_before_each_loop_pass_and_the_speed_trainer_per_pass():
    grid = click_grid(bpm=120.0)
    song = harmonic_tone(6.0)
    loop = (RATE, 2 * RATE)
    mixer = Mixer({"tone": song}, RATE)
    mixer.state = mixer.state.with_loop(loop)
    pipeline = RenderPipeline(mixer, grid)
    trainer = SpeedTrainer(start=0.6, target=0.8, step_percent=10)
    pipeline.practice = PracticeState(count_in_bars=1, count_in_each_loop=True, trainer=trainer)
    pipeline.start(loop[0], count_in=True)
    audio, positions, counting = [], [], []
    for _ in range(2000):
        chunk = pipeline.render()
        audio.append(chunk.audio)
        positions.append(chunk.positions)
        counting.append(chunk.counting)
        if pipeline.loop_pass >= 4:
            break
    positions, counting = np.concatenate(positions), np.concatenate(counting)
    # each pass: a count-in (the playhead at the loop start), then the loop from its first sample
    starts = np.flatnonzero(counting[:-1] & ~counting[1:]) + 1
    assert starts.size >= 3
    # (a stretched frame holds a fraction of a song sample: at tempo 0.6 one is 0.6 long)
    assert np.all(np.floor(positions[starts]) == loop[0])
    # pass n plays at 0.6, 0.7, 0.8, 0.8: its length in output frames is 1 s / tempo
    ends = np.flatnonzero(~counting[:-1] & counting[1:]) + 1
    lengths = [(e - s) / RATE for s, e in zip(starts, ends[ends > starts[0]])]
    expected = [1 / 0.6, 1 / 0.7, 1 / 0.8]
    np.testing.assert_allclose(lengths[:3], expected, rtol=0.02)
    # count-ins are at the tempo of the pass they lead into: 4 beats of 0.5 s
    counts = np.flatnonzero(counting)
    first_count = counts[counts < starts[0]]
    assert abs(first_count.size / RATE - 2.0 / 0.6) < 0.02


def test_without_the_stretcher_tempo_is_refused_and_plain_playback_is_exact():
    song = harmonic_tone(1.0)
    pipeline = RenderPipeline(Mixer({"tone": song}, RATE), use_stretcher=False)
    with pytest.raises(StemdeskError, match="Rubber Band"):
        pipeline.check_practice(PracticeState(tempo=0.8))
    audio, positions, _ = render_until(pipeline, song.shape[1])
    np.testing.assert_array_equal(audio[:, : song.shape[1]], song)
    np.testing.assert_array_equal(positions[: song.shape[1]], np.arange(song.shape[1]))


def test_a_transpose_while_playing_is_heard_within_50_ms_of_the_stretcher():
    """With the ring's 46 ms ahead of the callback, that is heard within 100 ms."""
    t = np.arange(4 * RATE) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    pipeline = pipeline_for({"sine": sine}, PracticeState())
    before, _, _ = render_until(pipeline, RATE)
    pipeline.practice = PracticeState(semitones=7)
    after, _, _ = render_until(pipeline, 2 * RATE)
    signal = np.concatenate([before, after], axis=1)[0]
    changed_at = before.shape[1]

    def fifth_wins(frame):
        window = signal[frame : frame + 1024] * np.hanning(1024)
        spectrum = np.abs(np.fft.rfft(window))
        bin_of = lambda hz: int(round(hz * 1024 / RATE))  # noqa: E731
        return spectrum[bin_of(659.3)] > spectrum[bin_of(440.0)]

    heard = next(f for f in range(changed_at - 2048, signal.size - 1024, 64) if fifth_wins(f)) + 512
    assert changed_at < heard < changed_at + 0.05 * RATE, (heard - changed_at) / RATE
