"""MixerState: solo/mute rules, levels in dB, loops, immutability."""

import math

import pytest

from stemdesk.playback.mixer import MixerState, db_to_amp


def test_db_to_amp_known_levels():
    assert db_to_amp(0.0) == 1.0
    assert db_to_amp(20.0) == pytest.approx(10.0)
    assert db_to_amp(-20 * math.log10(2)) == pytest.approx(0.5)
    assert db_to_amp(-math.inf) == 0.0


# (vocals mute, vocals solo, drums mute, drums solo)
#   -> (vocals audible, drums audible, bass audible)
SOLO_MUTE_TABLE = [
    ((False, False, False, False), (True, True, True)),
    ((True, False, False, False), (False, True, True)),
    ((False, True, False, False), (True, False, False)),
    ((False, True, False, True), (True, True, False)),
    # mute wins over solo on the same stem, and that stem's solo still silences the rest
    ((True, True, False, False), (False, False, False)),
    ((True, True, False, True), (False, True, False)),
    ((False, False, True, True), (False, False, False)),
]


@pytest.mark.parametrize(("switches", "audible"), SOLO_MUTE_TABLE)
def test_solo_and_mute_follow_daw_rules(switches, audible):
    v_mute, v_solo, d_mute, d_solo = switches
    state = (
        MixerState.for_stems(["vocals", "drums", "bass"])
        .with_mute("vocals", v_mute)
        .with_solo("vocals", v_solo)
        .with_mute("drums", d_mute)
        .with_solo("drums", d_solo)
    )
    assert tuple(state.audible(n) for n in ("vocals", "drums", "bass")) == audible
    expected = [1.0 if a else 0.0 for a in audible]
    assert state.amplitudes(["vocals", "drums", "bass"]) == expected


def test_amplitudes_combine_fader_and_master():
    state = MixerState.for_stems(["vocals", "drums"]).with_gain("vocals", -6.0).with_master(-3.0)
    vocals, drums = state.amplitudes(["vocals", "drums"])
    assert vocals == pytest.approx(10 ** (-9.0 / 20))
    assert drums == pytest.approx(10 ** (-3.0 / 20))
    closed = state.with_gain("drums", -math.inf)
    assert closed.amplitudes(["drums"]) == [0.0]


def test_with_methods_return_new_states_and_leave_the_old_one():
    state = MixerState.for_stems(["vocals", "drums"])
    muted = state.with_mute("vocals")
    assert muted is not state
    assert state.controls["vocals"].mute is False
    assert muted.controls["vocals"].mute is True
    with pytest.raises(TypeError):
        muted.controls["vocals"] = state.controls["vocals"]
    assert state.with_loop((10, 20)).loop == (10, 20)
    assert state.with_loop((10, 20)).with_loop(None).loop is None


def test_invalid_settings_are_refused():
    state = MixerState.for_stems(["vocals"])
    with pytest.raises(KeyError, match="guitar"):
        state.with_mute("guitar")
    with pytest.raises(ValueError):
        state.with_loop((20, 20))
    with pytest.raises(ValueError):
        state.with_loop((-1, 20))
    with pytest.raises(ValueError):
        state.with_gain("vocals", math.nan)
    with pytest.raises(ValueError):
        state.with_master(math.inf)
