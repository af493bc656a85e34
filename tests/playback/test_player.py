"""Player: a real PortAudio stream on ALSA's null device (see conftest.py), fed by the
real render thread (mixer, Rubber Band, click) through the ring buffer."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stemdesk.errors import StemdeskError
from stemdesk.playback.click import BeatGrid
from stemdesk.playback.mixer import Mixer
from stemdesk.playback.player import Player, list_output_devices

RATE = 44100
BLOCK = 256


class RecordingMixer(Mixer):
    """A mixer that keeps a copy of the spans the render thread has it render."""

    def __init__(self, stems, rate):
        super().__init__(stems, rate)
        self.blocks = []

    def render(self, out, fade_out=False):
        super().render(out, fade_out)
        self.blocks.append(out.T.copy())


class RecordingPlayer(Player):
    """A player that keeps what its callback handed to PortAudio: the frames it took from
    the ring, in order (the null device runs the callback flat out, faster than the render
    thread, so some blocks are partly empty; those gaps are left out), and the song
    position of each block's first frame."""

    def __init__(self, *args, limit=20 * RATE, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit = limit
        self.frames = []
        self.block_positions = []
        self.kept = 0
        self.pause_block = None

    def _callback(self, outdata, frames, time_info, status):
        pausing = self._pause_requested
        try:
            super()._callback(outdata, frames, time_info, status)
        finally:
            if pausing:
                self.pause_block = (outdata.T.copy(), self.copied)
            if self.copied and self.kept < self.limit:
                self.frames.append(outdata[: self.copied].T.copy())
                self.block_positions.append((self.kept, self._ring.position))
                self.kept += self.copied

    def played(self):
        return np.concatenate(self.frames, axis=1)


def left_right_dc(length):
    """Stems "left" (1.0 on the left channel) and "right" (1.0 on the right)."""
    left = np.zeros((2, length), dtype=np.float32)
    left[0] = 1.0
    right = np.zeros((2, length), dtype=np.float32)
    right[1] = 1.0
    return {"left": left, "right": right}


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the audio callback"
        time.sleep(0.001)


@pytest.fixture
def looping_player(null_sound_output):
    """A player of DC stems looping over the whole song, so it never ends by itself."""
    mixer = Mixer(left_right_dc(RATE), RATE)
    mixer.state = mixer.state.with_loop((0, mixer.length))
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        yield player


def test_plays_the_song_to_the_end(null_sound_output):
    t = np.arange(20000) / RATE
    stems = {
        "vocals": np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.2 * np.sin(2 * np.pi * 550 * t)]),
        "bass": 0.3 * np.sin(2 * np.pi * 110 * t)[None],
    }
    mixer = RecordingMixer({name: audio.astype(np.float32) for name, audio in stems.items()}, RATE)
    mixer.state = mixer.state.with_gain("bass", -6.0)
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: not player.is_playing)
        assert player.finished and player.position == 20000
    # the mixer rendered the exact mix, span by span, then silence past the end
    written = np.concatenate(mixer.blocks, axis=1)
    expected = mixer.mix(mixer.state)
    np.testing.assert_array_equal(written[:, :20000], expected)
    assert np.all(written[:, 20000:] == 0.0)
    # the callback played it through the stretcher at tempo 1: the same song, sample-aligned
    # (Rubber Band is not bit-transparent, but close), faded in over the first block
    played = player.played()
    assert played.shape[1] >= 20000
    error = played[:, BLOCK:20000] - expected[:, BLOCK:]
    assert 10 * np.log10(np.sum(expected[:, BLOCK:] ** 2) / np.sum(error**2)) > 20


def test_play_at_the_end_starts_again_from_the_top(null_sound_output):
    mixer = Mixer(left_right_dc(3000), RATE)
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: not player.is_playing)
        assert player.position == 3000
        first = player.kept
        player.play()
        wait_for(lambda: not player.is_playing)
        assert player.position == 3000
        assert abs(player.kept - 2 * first) <= BLOCK


def test_mute_from_another_thread_is_heard_within_100_ms(null_sound_output):
    t = np.arange(RATE) / RATE
    left = np.zeros((2, RATE), np.float32)
    left[0] = 0.5 * np.sin(2 * np.pi * 441 * t)
    right = np.zeros((2, RATE), np.float32)
    right[1] = 0.5 * np.sin(2 * np.pi * 661.5 * t)
    mixer = Mixer({"left": left, "right": right}, RATE)
    mixer.state = mixer.state.with_loop((0, mixer.length))
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: player.kept >= 4 * RATE // 10)
        muted_at = player.kept + player.buffered
        player.set_state(mixer.state.with_mute("left"))
        wait_for(lambda: player.kept >= muted_at + RATE // 2)
        player.pause()
    played = player.played()

    def rms(channel, start, stop):
        return float(np.sqrt(np.mean(played[channel, start:stop] ** 2)))

    assert rms(0, 4096, muted_at) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    # After what the ring held then (up to its fill, 2048 frames here), the stretcher's
    # content latency and the mixer's ramp over one chunk, the mute is heard fading
    # within 100 ms; the stretcher's window has faded out 150 ms after it.
    heard = muted_at + int(0.1 * RATE)
    assert rms(0, heard, heard + 441) < 0.8 * rms(0, 4096, muted_at)
    assert rms(0, muted_at + int(0.15 * RATE), played.shape[1]) < 0.005
    assert rms(1, 4096, played.shape[1]) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_pause_fades_out_stops_the_playhead_and_play_resumes_there(looping_player):
    looping_player.play()
    wait_for(lambda: looping_player.kept >= RATE // 4)
    looping_player.pause()
    assert not looping_player.is_playing
    position, kept = looping_player.position, looping_player.kept
    time.sleep(0.05)
    assert looping_player.position == position and looping_player.kept == kept
    # the playhead is the song position of the next frame to play: the frames played so
    # far, around the one-second loop (at tempo 1)
    assert abs(position - kept % RATE) <= 2
    # the last block fades out to silence (the null device may have drained the ring:
    # then it is partly zeros, never louder than the fade)
    block, copied = looping_player.pause_block
    fade_out = 1.0 - np.arange(1, BLOCK + 1) / BLOCK
    np.testing.assert_allclose(block[1, :copied], fade_out[:copied], atol=0.05)
    assert np.all(block[:, copied:] == 0.0)

    looping_player.toggle()
    assert looping_player.is_playing
    wait_for(lambda: looping_player.kept >= kept + 4 * BLOCK)
    looping_player.stop()
    assert looping_player.position == 0
    resumed = looping_player.played()[1, kept : kept + BLOCK]
    np.testing.assert_allclose(resumed, np.arange(1, BLOCK + 1) / BLOCK, atol=0.05)


def test_seek_while_playing_moves_the_playhead_to_the_sample(null_sound_output):
    mixer = Mixer(left_right_dc(RATE), RATE)
    # The loop keeps it playing until the seek, which jumps past the loop's end, from
    # where it plays on to the end of the song.
    mixer.state = mixer.state.with_loop((0, RATE // 2))
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: player.kept >= 3 * BLOCK)
        target = RATE - 10 * BLOCK
        player.seek(target)
        assert player.position >= target  # the callback may have moved on already
        wait_for(lambda: not player.is_playing)
        assert player.finished and player.position == RATE
    after = [(kept, position) for kept, position in player.block_positions if position >= target]
    first_kept, first_position = after[0]
    assert first_position == target  # the first frame played after the seek is the target
    assert abs((player.kept - first_kept) - 10 * BLOCK) <= BLOCK


def test_half_tempo_playhead_is_in_song_time(null_sound_output):
    mixer = Mixer(left_right_dc(2 * RATE), RATE)
    with RecordingPlayer(mixer, blocksize=BLOCK) as player:
        player.set_tempo(0.5)
        player.play()
        wait_for(lambda: player.kept >= RATE)
        player.pause()
        # latency compensated: the stretcher's and the ring's lead are not counted
        assert abs(player.position - 0.5 * player.kept) <= 2
        player.play()
        wait_for(lambda: not player.is_playing)
        assert player.finished and abs(player.kept / (4 * RATE) - 1) < 0.01


def test_loop_with_count_in_lands_on_the_sample(null_sound_output):
    """Count-in clicks at 120 bpm, then the loop's first sample -- an impulse -- exactly
    one bar after the count-in's first beat, on every pass."""
    song = np.zeros((1, 4 * RATE), np.float32)
    loop = (RATE, 2 * RATE)
    song[0, loop[0]] = 1.0
    mixer = Mixer({"marker": song}, RATE)
    mixer.state = mixer.state.with_loop(loop)
    beats = np.arange(16) * 0.5
    grid = BeatGrid(beats, beats[::4])
    beat = RATE // 2
    with RecordingPlayer(mixer, blocksize=BLOCK, grid=grid) as player:
        player.set_click(0.0, muted=True)  # count-in clicks only
        player.set_count_in(1, before_each_loop=True)
        player.seek(loop[0])
        player.play()
        wait_for(lambda: player.kept >= 3 * (4 * beat + RATE))
        player.pause()
    played = player.played()[0]
    pass_length = 4 * beat + (loop[1] - loop[0])  # a bar of count-in, then the loop
    for start in (0, pass_length, 2 * pass_length):
        # the count-in's clicks start on their beats (the very first one is faded in)
        for k in (1, 2, 3):
            onset = start + k * beat
            assert np.abs(played[onset - 100 : onset]).max() < 1e-3
            assert np.abs(played[onset : onset + 100]).max() > 0.1
        marker = start + 4 * beat
        heard = marker - 200 + int(np.argmax(np.abs(played[marker - 200 : marker + 200])))
        assert heard == marker


def test_lists_the_null_output(null_sound_output):
    assert "default" in list_output_devices()


def test_unknown_device_is_a_user_error(null_sound_output):
    mixer = Mixer(left_right_dc(100), RATE)
    with pytest.raises(StemdeskError, match="^No audio output device: ") as caught:
        Player(mixer, device="no such output 7731")
    assert "\n" not in str(caught.value)
    assert "default" in str(caught.value)  # it names the outputs there are


def test_closed_player_refuses_to_play(null_sound_output):
    player = Player(Mixer(left_right_dc(100), RATE), blocksize=BLOCK)
    player.close()
    player.close()
    assert not player.is_playing
    with pytest.raises(RuntimeError):
        player.play()


def test_without_sounddevice_the_core_imports_and_the_player_explains(tmp_path):
    script = """
import sys
sys.modules["sounddevice"] = None  # what Python does when the package is absent
import numpy as np
from stemdesk.errors import StemdeskError
from stemdesk.playback import Mixer, Player
mixer = Mixer({"a": np.zeros((2, 10), np.float32)}, 44100)
try:
    Player(mixer)
except StemdeskError as exc:
    print(exc)
"""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == (
        "No audio output device: the 'sounddevice' package is not installed."
    )
