"""Real multitrack datasets a user may own, mapped onto stemdesk's instrument classes.

MUSDB18 and MUSDB18-HQ, MedleyDB, Slakh2100 and stemdesk's own rendered
multitracks all load as :class:`Track` objects through one call::

    tracks = load_dataset("/data/musdb18hq", split="test")
    stems = stems_audio(tracks[0])    # {"vocals": Audio, "drums": Audio, ...} at 44.1 kHz
    mix = mixture_audio(tracks[0])

No torch here: the training side wraps these in its own datasets.
"""

from .detect import load_dataset
from .track import DEFAULT_RATE, AudioSource, Track, load_source, mixture_audio, stems_audio

__all__ = [
    "DEFAULT_RATE",
    "AudioSource",
    "Track",
    "load_dataset",
    "load_source",
    "mixture_audio",
    "stems_audio",
]
