"""stemdesk render: the practice track from the player's own engine, end to end."""

import numpy as np
import pytest
import soundfile as sf

from stemdesk.playback.click import BeatGrid
from stemdesk.audio import Audio
from stemdesk.cli import main
from stemdesk.playback.mixer import Mixer, MixerState
from stemdesk.playback.practice import PracticeState
from stemdesk.render import render_practice
from tests.conftest import null_sound_output
from tests.playback.test_player import RecordingPlayer, wait_for

pytest.importorskip("pylibrb")

RATE = 44100


def two_tones(seconds=3.0):
    """Stems "low" (440 Hz) and "high" (997 Hz), stereo float32 Audio."""
    t = np.arange(int(seconds * RATE)) / RATE
    low = np.stack([0.4 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    high = np.stack([0.2 * np.sin(2 * np.pi * 997 * t)] * 2).astype(np.float32)
    return {"low": Audio(low, RATE), "high": Audio(high, RATE)}


def level_at(signal, freq):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return spectrum[int(round(freq * signal.size / RATE))]


def test_render_is_the_count_in_then_the_span_at_the_tempo_and_the_mix():
    stems = two_tones()
    beats = np.arange(0, 3.0, 0.5)
    grid = BeatGrid(beats, beats[::4])
    state = MixerState.for_stems(stems).with_mute("high")
    practice = PracticeState(tempo=0.8, count_in_bars=1, click_muted=False)
    track = render_practice(stems, state, practice, grid, start=RATE // 2, end=2 * RATE)
    count_in = 4 * 0.5 * RATE / 0.8
    assert abs(track.num_samples - (count_in + 1.5 * RATE / 0.8)) <= 2
    song = track.samples[0, int(count_in) + RATE // 4 : int(count_in) + RATE // 4 + (1 << 15)]
    # the muted stem is gone; the other keeps its pitch at 80 % tempo
    assert level_at(song, 997) < 0.01 * level_at(song, 440)


def test_render_matches_what_the_player_plays(tmp_path):
    """Same engine: the file holds the frames the player's callback sends to PortAudio."""
    stems = two_tones(2.0)
    state = MixerState.for_stems(stems).with_gain("high", -6.0)
    practice = PracticeState(tempo=0.7, semitones=-3)
    track = render_practice(stems, state, practice)
    mixer = Mixer({name: audio.samples for name, audio in stems.items()}, RATE)
    mixer.state = state
    with null_sound_output(tmp_path), RecordingPlayer(mixer, blocksize=256) as player:
        player.set_practice(practice)
        player.play()
        wait_for(lambda: not player.is_playing)
    played = player.played()
    n = min(played.shape[1], track.num_samples)
    assert abs(played.shape[1] - track.num_samples) <= 256
    # (the player fades in over its first block)
    np.testing.assert_allclose(played[:, 256:n], track.samples[:, 256:n], atol=1e-5)


def test_cli_renders_the_demo_as_float_wav(tmp_path, demo_audio, capsys):
    song = tmp_path / "song.wav"
    sf.write(song, demo_audio.samples[:, : 4 * demo_audio.rate].T, demo_audio.rate, subtype="FLOAT")
    out = tmp_path / "practice.wav"
    assert main(["render", str(song), "-o", str(out), "--mute", "vocals", "--gain", "accompaniment=-3",
                 "--tempo", "0.5", "--transpose", "2", "--start", "1", "--end", "3", "--device", "cpu"]) == 0
    info = sf.info(out)
    assert info.subtype == "FLOAT" and info.channels == 2
    assert abs(info.frames - 2 * 2 * demo_audio.rate) <= 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize("options, message", [
    (["--mute", "drums"], "--mute drums: no such stem; this model gives vocals, accompaniment"),
    (["--gain", "vocals"], "--gain vocals: write it as STEM=DB"),
    (["--tempo", "3"], "--tempo 3 is outside 0.25-2.0"),
    (["--transpose", "13"], "--transpose 13 is outside"),
    (["--start", "3", "--end", "2"], "--start 3 --end 2 is not a span"),
])
def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path, demo_audio, options, message, capsys):
    song = tmp_path / "song.wav"
    sf.write(song, demo_audio.samples[:, : 4 * demo_audio.rate].T, demo_audio.rate, subtype="FLOAT")
    out = tmp_path / "practice.wav"
    assert main(["render", str(song), "-o", str(out), "--device", "cpu", *options]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("stemdesk: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not out.exists()


def test_output_must_be_a_wav(tmp_path, demo_audio, capsys):
    assert main(["render", "nowhere.mp3", "-o", str(tmp_path / "out.flac")]) == 2
    assert "is a .wav file" in capsys.readouterr().err
