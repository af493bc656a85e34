"""A short playback soak on real separations: no exception, no underrun, no memory growth."""

import pytest

from stemdesk.catalogue import Catalogue
from tests.playback.soak import soak


@pytest.fixture(scope="module")
def separations(demo_audio, demo_stems):
    """The demo song by Spleeter and by the drums model: two stem sets to switch between."""
    drums = Catalogue().open("drums-unet", device="cpu").separate(demo_audio)
    return [{name: stem.samples for name, stem in stems.items()} for stems in (demo_stems, drums)]


def test_twenty_simulated_minutes_of_random_use(null_sound_output, separations, demo_audio):
    report = soak(separations, demo_audio.rate, simulated_seconds=20 * 60, warmup_seconds=120, seed=13)
    print("\n".join(report.lines()))
    assert report.simulated_seconds >= 20 * 60
    assert report.exceptions == []
    assert report.underflows == 0 and report.status_blocks == 0
    assert report.growth_bytes < 20 * 2**20
    # Every kind of action happened, model switches included.
    assert all(report.actions[name] > 0 for name in ("toggle", "seek", "loop", "mute", "solo", "fader", "switch"))
