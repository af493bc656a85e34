"""Player: a real PortAudio stream on ALSA's null device (see conftest.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stemdesk.errors import StemdeskError
from stemdesk.playback.mixer import Mixer
from stemdesk.playback.player import Player, list_output_devices

RATE = 44100
BLOCK = 256


class RecordingMixer(Mixer):
    """A mixer that keeps a copy of the blocks it renders, to check what the callback
    handed to PortAudio. The null device runs the callback flat out, so it stops keeping
    them after `limit` blocks and only counts them."""

    def __init__(self, stems, rate, limit=10_000):
        super().__init__(stems, rate)
        self.limit = limit
        self.blocks = []
        self.rendered = 0

    def render(self, out, fade_out=False):
        super().render(out, fade_out)
        self.rendered += 1
        if len(self.blocks) < self.limit:
            self.blocks.append(out.T.copy())


def left_right_dc(length):
    """Stems "left" (1.0 on the left channel) and "right" (1.0 on the right)."""
    left = np.zeros((2, length), dtype=np.float32)
    left[0] = 1.0
    right = np.zeros((2, length), dtype=np.float32)
    right[1] = 1.0
    return {"left": left, "right": right}


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the audio callback"
        time.sleep(0.001)


@pytest.fixture
def looping_player(null_sound_output):
    """A player of DC stems looping over the whole song, so it never ends by itself."""
    mixer = RecordingMixer(left_right_dc(RATE), RATE)
    mixer.state = mixer.state.with_loop((0, mixer.length))
    with Player(mixer, blocksize=BLOCK) as player:
        yield player


def test_plays_the_song_to_the_end_exactly(null_sound_output):
    rng = np.random.default_rng(1)
    stems = {
        "vocals": rng.uniform(-0.3, 0.3, (2, 20000)).astype(np.float32),
        "bass": rng.uniform(-0.3, 0.3, (1, 20000)).astype(np.float32),
    }
    mixer = RecordingMixer(stems, RATE)
    mixer.state = mixer.state.with_gain("bass", -6.0)
    with Player(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: not player.is_playing)
        assert player.finished and player.position == 20000
    written = np.concatenate(mixer.blocks, axis=1)
    assert written.shape[1] >= 20000
    expected = mixer.mix(mixer.state)
    # playback fades in over its first block, then is the exact mix, then silence
    fade = np.arange(1, BLOCK + 1, dtype=np.float32) / BLOCK
    np.testing.assert_allclose(written[:, :BLOCK], expected[:, :BLOCK] * fade, atol=1e-6)
    np.testing.assert_array_equal(written[:, BLOCK:20000], expected[:, BLOCK:])
    assert np.all(written[:, 20000:] == 0.0)


def test_play_at_the_end_starts_again_from_the_top(null_sound_output):
    mixer = RecordingMixer(left_right_dc(3000), RATE)
    with Player(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: not player.is_playing)
        played = len(mixer.blocks)
        player.play()
        wait_for(lambda: not player.is_playing)
        assert len(mixer.blocks) == 2 * played
        assert player.position == 3000


def test_mute_from_another_thread_is_silent_within_one_block(looping_player):
    mixer = looping_player.mixer
    looping_player.play()
    wait_for(lambda: mixer.rendered >= 5)
    before = mixer.rendered
    looping_player.set_state(mixer.state.with_mute("left"))
    wait_for(lambda: mixer.rendered >= before + 6)
    looping_player.pause()
    blocks = mixer.blocks
    assert len(blocks) >= before + 6, "the callback ran past the blocks it keeps"
    assert np.all(blocks[before - 1][0] == 1.0)  # the mute was not in effect yet
    # The callback may have been rendering block `before` with the old state already;
    # the next one ramps to silence, and every block after it is silent.
    assert blocks[before + 1][0, -1] == 0.0
    assert all(np.all(block[0] == 0.0) for block in blocks[before + 2 : before + 6])
    assert all(np.all(block[1] == 1.0) for block in blocks[1 : before + 6])


def test_pause_fades_out_and_stops_the_playhead(looping_player):
    mixer = looping_player.mixer
    looping_player.play()
    wait_for(lambda: mixer.rendered >= 10)
    looping_player.pause()
    assert not looping_player.is_playing
    position, rendered = looping_player.position, mixer.rendered
    assert position == (rendered * BLOCK) % mixer.length
    time.sleep(0.05)
    assert looping_player.position == position and mixer.rendered == rendered
    assert len(mixer.blocks) == rendered, "the callback ran past the blocks it keeps"
    fade_out = 1.0 - np.arange(1, BLOCK + 1) / BLOCK
    np.testing.assert_allclose(mixer.blocks[-1][0], fade_out, atol=1e-6)

    mixer.blocks.clear()  # safe: the callback is not running
    looping_player.toggle()
    assert looping_player.is_playing
    wait_for(lambda: mixer.blocks)
    looping_player.stop()
    assert looping_player.position == 0
    np.testing.assert_allclose(mixer.blocks[0][0], np.arange(1, BLOCK + 1) / BLOCK, rtol=1e-6)


def test_seek_while_playing_moves_the_playhead(null_sound_output):
    ramp = (np.arange(RATE, dtype=np.float32) / RATE)[None, :]  # mono: value tells position
    mixer = RecordingMixer({"ramp": ramp}, RATE)
    # The loop keeps it playing until the seek, which jumps past the loop's end, from
    # where it plays on to the end of the song.
    mixer.state = mixer.state.with_loop((0, RATE // 2))
    with Player(mixer, blocksize=BLOCK) as player:
        player.play()
        wait_for(lambda: mixer.rendered >= 3)
        before = mixer.rendered
        target = RATE - 10 * BLOCK
        player.seek(target)
        assert player.position >= target  # the callback may have moved on already
        wait_for(lambda: not player.is_playing)
        assert player.finished and player.position == RATE
    assert len(mixer.blocks) == mixer.rendered, "the callback ran past the blocks it keeps"
    first = next(
        i for i in range(before, len(mixer.blocks))
        if np.array_equal(mixer.blocks[i][0], ramp[0, target : target + BLOCK])
    )
    assert first <= before + 1  # the block in flight during seek(), then the target
    assert len(mixer.blocks) == first + 10  # and on, block by block, to the end


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
