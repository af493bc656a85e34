"""Playback: the mixer, the render pipeline (stretcher, click) and the player.

`Mixer`, `MixerState` and `RenderPipeline` need only numpy (and Rubber Band,
the optional `stretch` extra, for tempo and transpose; the practice set-up they play is
`stemdesk.practice.PracticeState`);
`Player` and `list_output_devices` load sounddevice (PortAudio) when first called.
"""

from stemdesk.playback.mixer import Mixer, MixerState, StemControl, db_to_amp
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.player import Player, list_output_devices

__all__ = [
    "Mixer", "MixerState", "Player", "RenderPipeline", "StemControl", "db_to_amp",
    "list_output_devices",
]
