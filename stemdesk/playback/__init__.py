"""Playback: the mixer (pure numpy) and the player that sends it to a sound output.

`Mixer` and `MixerState` need only numpy; `Player` and `list_output_devices` load
sounddevice (PortAudio) when first called.
"""

from stemdesk.playback.mixer import Mixer, MixerState, StemControl, db_to_amp
from stemdesk.playback.player import Player, list_output_devices

__all__ = ["Mixer", "MixerState", "Player", "StemControl", "db_to_amp", "list_output_devices"]
