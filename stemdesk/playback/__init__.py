"""Playback: the mixer, the render pipeline (stretcher, click) and the player.

`Mixer`, `MixerState`, `PracticeState`, `SpeedTrainer`, `BeatGrid` and `RenderPipeline`
need only numpy (and Rubber Band, the optional `stretch` extra, for tempo and transpose);
`Player` and `list_output_devices` load sounddevice (PortAudio) when first called.
"""

from stemdesk.playback.click import BeatGrid
from stemdesk.playback.mixer import Mixer, MixerState, StemControl, db_to_amp
from stemdesk.playback.pipeline import RenderPipeline
from stemdesk.playback.player import Player, list_output_devices
from stemdesk.playback.practice import PracticeState, SpeedTrainer

__all__ = [
    "BeatGrid", "Mixer", "MixerState", "Player", "PracticeState", "RenderPipeline",
    "SpeedTrainer", "StemControl", "db_to_amp", "list_output_devices",
]
