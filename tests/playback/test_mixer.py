"""Mixer: block rendering (ramps, loop, seek, end of song) and offline mixing."""

import math
import tracemalloc

import numpy as np
import pytest

from stemdesk.playback.mixer import Mixer, MixerState

RATE = 44100


def noise_stems(length=6000, seed=0):
    """Three stems of noise, one of them mono: name -> float32 (channels, length)."""
    rng = np.random.default_rng(seed)
    return {
        "vocals": rng.uniform(-0.5, 0.5, (2, length)).astype(np.float32),
        "bass": rng.uniform(-0.5, 0.5, (1, length)).astype(np.float32),
        "drums": rng.uniform(-0.5, 0.5, (2, length)).astype(np.float32),
    }


def left_right_dc_mixer(length=10000):
    """Stem "left" is 1.0 on the left channel only, "right" 1.0 on the right: the output
    of each channel is then that stem's gain, sample by sample."""
    left = np.zeros((2, length), dtype=np.float32)
    left[0] = 1.0
    right = np.zeros((2, length), dtype=np.float32)
    right[1] = 1.0
    return Mixer({"left": left, "right": right}, RATE)


def render_blocks(mixer, count, frames):
    """`count` consecutive blocks as one float32 (channels, count * frames) array."""
    out = np.empty((frames, mixer.channels), dtype=np.float32)
    blocks = []
    for _ in range(count):
        mixer.render(out)
        blocks.append(out.T.copy())
    return np.concatenate(blocks, axis=1)


def test_mix_is_the_weighted_sum_of_the_stems():
    stems = noise_stems()
    mixer = Mixer(stems, RATE)
    state = (
        mixer.state.with_gain("vocals", -6.0).with_gain("bass", 3.0).with_master(-2.0)
    )
    master = 10 ** (-2.0 / 20)
    expected = (
        stems["vocals"] * 10 ** (-6.0 / 20) * master
        + stems["bass"] * 10 ** (3.0 / 20) * master  # mono bass spreads to both channels
        + stems["drums"] * master
    )
    mix = mixer.mix(state)
    assert mix.dtype == np.float32 and mix.shape == (2, 6000)
    np.testing.assert_allclose(mix, expected, atol=1e-6)
    np.testing.assert_allclose(mixer.mix(state, 1000, 1500), expected[:, 1000:1500], atol=1e-6)


def test_mix_honours_solo_and_mute():
    stems = noise_stems()
    mixer = Mixer(stems, RATE)
    solo_bass = mixer.state.with_solo("bass").with_solo("vocals").with_mute("vocals")
    np.testing.assert_array_equal(mixer.mix(solo_bass), np.repeat(stems["bass"], 2, axis=0))
    with pytest.raises(ValueError):
        mixer.mix(solo_bass, 10, 6001)


def test_render_with_constant_gains_equals_mix():
    mixer = Mixer(noise_stems(length=3000), RATE)
    state = mixer.state.with_gain("drums", -12.0).with_master(1.5)
    mixer.state = state
    mixer.render(np.empty((256, 2), dtype=np.float32))  # the block that ramps to `state`
    mixer.seek(0)
    rendered = render_blocks(mixer, 12, 256)
    np.testing.assert_array_equal(rendered[:, :3000], mixer.mix(state))


def test_gain_change_ramps_linearly_over_one_block():
    mixer = left_right_dc_mixer()
    frames = 128
    render_blocks(mixer, 1, frames)
    mixer.state = mixer.state.with_gain("left", -20.0)
    ramp_block, after = np.split(render_blocks(mixer, 2, frames), 2, axis=1)
    left = np.concatenate([[1.0], ramp_block[0]])  # 1.0: the previous block's last gain
    increment = (0.1 - 1.0) / frames
    steps = np.diff(left)
    assert np.all(np.abs(steps - increment) <= 1e-6), steps
    assert ramp_block[0, -1] == pytest.approx(0.1, abs=1e-6)
    np.testing.assert_allclose(after[0], 0.1, rtol=1e-6)
    # the other stem's gain did not change, so neither did its channel
    assert np.all(ramp_block[1] == 1.0) and np.all(after[1] == 1.0)


def test_mute_is_silent_by_the_end_of_the_next_block_without_a_jump():
    mixer = left_right_dc_mixer()
    frames = 64
    render_blocks(mixer, 1, frames)
    mixer.state = mixer.state.with_mute("left").with_gain("right", -6.0)
    ramp_block, after = np.split(render_blocks(mixer, 2, frames), 2, axis=1)
    assert np.max(np.abs(np.diff(ramp_block[0]))) <= 1.0 / frames + 1e-6
    assert ramp_block[0, 0] > 0.9 and ramp_block[0, -1] == 0.0
    assert np.all(after[0] == 0.0)
    np.testing.assert_allclose(after[1], 10 ** (-6 / 20), rtol=1e-6)


def test_fade_in_ramps_the_next_block_up_from_silence():
    mixer = left_right_dc_mixer()
    mixer.fade_in()
    block = render_blocks(mixer, 1, 100)
    np.testing.assert_allclose(block[0], np.arange(1, 101) / 100, rtol=1e-6)


def test_fade_out_ramps_to_silence_and_the_next_block_ramps_back():
    mixer = left_right_dc_mixer()
    out = np.empty((50, 2), dtype=np.float32)
    mixer.render(out, fade_out=True)
    np.testing.assert_allclose(out[:, 0], 1.0 - np.arange(1, 51) / 50, atol=1e-6)
    assert mixer.position == 50
    mixer.render(out)
    np.testing.assert_allclose(out[:, 0], np.arange(1, 51) / 50, rtol=1e-6)


@pytest.mark.parametrize(("loop", "frames"), [((1000, 1700), 512), ((2000, 2100), 256)])
def test_loop_wraps_at_the_exact_sample(loop, frames):
    mixer = Mixer(noise_stems(), RATE)
    mixer.state = mixer.state.with_loop(loop)
    mixer.seek(900)
    rendered = render_blocks(mixer, 8, frames)
    mix = mixer.mix(mixer.state)
    start, end = loop
    expected = [mix[:, 900:end]]
    while sum(piece.shape[1] for piece in expected) < rendered.shape[1]:
        expected.append(mix[:, start:end])
    expected = np.concatenate(expected, axis=1)[:, : rendered.shape[1]]
    np.testing.assert_array_equal(rendered, expected)
    assert start <= mixer.position < end
    assert not mixer.finished


def test_playhead_after_the_loop_plays_on_to_the_end():
    mixer = Mixer(noise_stems(length=1000), RATE)
    mixer.state = mixer.state.with_loop((100, 200))
    mixer.seek(600)
    rendered = render_blocks(mixer, 2, 256)
    np.testing.assert_array_equal(rendered[:, :400], mixer.mix(mixer.state, 600, 1000))
    assert mixer.finished


def test_loop_end_past_the_song_wraps_at_the_song_end():
    mixer = Mixer(noise_stems(length=1000), RATE)
    mixer.state = mixer.state.with_loop((700, 5000))
    mixer.seek(900)
    rendered = render_blocks(mixer, 1, 300)
    mix = mixer.mix(mixer.state)
    np.testing.assert_array_equal(rendered, np.concatenate([mix[:, 900:], mix[:, 700:900]], axis=1))
    assert mixer.position == 900


def test_seek_moves_the_next_block_and_is_reported_at_once():
    mixer = Mixer(noise_stems(), RATE)
    render_blocks(mixer, 2, 256)
    mixer.seek(4000)
    assert mixer.position == 4000
    rendered = render_blocks(mixer, 1, 256)
    np.testing.assert_array_equal(rendered, mixer.mix(mixer.state, 4000, 4256))
    assert mixer.position == 4256
    mixer.seek(-5)
    assert mixer.position == 0
    mixer.seek(10**9)
    assert mixer.position == 6000 and mixer.finished


def test_end_of_song_writes_zeros_and_finishes():
    mixer = Mixer(noise_stems(length=1000), RATE)
    rendered = render_blocks(mixer, 4, 256)
    np.testing.assert_array_equal(rendered[:, :1000], mixer.mix(mixer.state))
    assert np.all(rendered[:, 1000:] == 0.0)
    assert mixer.finished and mixer.position == 1000
    assert np.all(render_blocks(mixer, 1, 256) == 0.0)
    mixer.seek(0)
    assert not mixer.finished


def test_mono_song_renders_to_any_channel_count():
    mono = np.linspace(-1, 1, 500, dtype=np.float32)[None, :]
    mixer = Mixer({"piano": mono}, RATE)
    assert mixer.channels == 1
    out = np.empty((500, 2), dtype=np.float32)
    mixer.render(out)
    np.testing.assert_array_equal(out.T, np.repeat(mono, 2, axis=0))


def test_blocks_larger_than_max_block_still_render():
    mixer = Mixer(noise_stems(length=3000), RATE, max_block=128)
    rendered = render_blocks(mixer, 1, 1000)
    np.testing.assert_array_equal(rendered, mixer.mix(mixer.state, 0, 1000))


def test_render_allocates_no_block_sized_arrays():
    mixer = Mixer(noise_stems(length=RATE), RATE)
    out = np.empty((4096, 2), dtype=np.float32)  # one block is 32 KiB
    mixer.render(out)
    states = [
        mixer.state.with_gain("vocals", -db).with_mute("bass", db % 2 == 0) for db in range(8)
    ]
    tracemalloc.start()
    try:
        for state in states:
            mixer.state = state
            mixer.render(out)
            mixer.render(out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024


def test_stems_that_do_not_fit_together_are_refused():
    with pytest.raises(ValueError, match="length"):
        Mixer({"a": np.zeros((2, 10), np.float32), "b": np.zeros((2, 11), np.float32)}, RATE)
    with pytest.raises(ValueError, match="channels"):
        Mixer({"a": np.zeros((2, 10), np.float32), "b": np.zeros((3, 10), np.float32)}, RATE)
    with pytest.raises(ValueError):
        Mixer({}, RATE)
    mixer = Mixer({"a": np.zeros((2, 10), np.float32)}, RATE)
    with pytest.raises(ValueError):
        mixer.state = MixerState.for_stems(["b"])


def test_closed_fader_contributes_nothing():
    stems = noise_stems()
    mixer = Mixer(stems, RATE)
    state = mixer.state.with_gain("vocals", -math.inf).with_gain("bass", -math.inf)
    np.testing.assert_array_equal(mixer.mix(state), stems["drums"])
