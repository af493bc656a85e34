"""Per-stem activity with hysteresis, on stems whose spans are known."""

import numpy as np
import pytest

from stemdesk.analysis import stem_activity
from stemdesk.analysis.activity import FRAME_SECONDS, ActivitySettings, active_spans
from stemdesk.audio import Audio

from .signals import RATE, tone_bursts


def test_a_tone_that_starts_and_stops_gives_its_spans():
    tone = tone_bursts([(2.0, 6.0), (9.0, 14.5)], 16.0)
    spans = stem_activity({"guitar": tone})["guitar"]
    assert len(spans) == 2
    for (start, end), (true_start, true_end) in zip(spans, [(2.0, 6.0), (9.0, 14.5)]):
        assert start == pytest.approx(true_start, abs=0.3)
        assert end == pytest.approx(true_end, abs=0.3)


def test_a_short_pause_is_bridged_and_a_short_blip_ignored():
    tone = tone_bursts([(1.0, 5.0), (5.4, 9.0), (12.0, 12.3)], 14.0)
    spans = stem_activity({"bass": tone})["bass"]
    assert len(spans) == 1
    assert spans[0][0] == pytest.approx(1.0, abs=0.3) and spans[0][1] == pytest.approx(9.0, abs=0.3)


def test_noise_wobbling_around_the_threshold_does_not_flicker():
    rng = np.random.default_rng(0)
    frames = 600
    # Loud for 5 s, then a level wobbling +-4 dB around the on threshold (20 dB below the loud part).
    level = np.concatenate([np.zeros(100), -20.0 + rng.uniform(-4, 4, frames - 100)])
    spans = active_spans(level, mix_loud=0.0)
    assert len(spans) == 1, spans
    # Hysteresis matters: with on and off at one threshold the same level flickers.
    flicker = active_spans(level, 0.0, ActivitySettings(on_db=-20.0, off_db=-20.0, smoothing=FRAME_SECONDS,
                                                          min_gap=FRAME_SECONDS, min_span=FRAME_SECONDS))
    assert len(flicker) > 5


def test_bleed_far_below_the_mix_is_silence_and_every_stem_is_reported():
    loud = tone_bursts([(0.0, 10.0)], 10.0, level_db=-6.0)
    bleed = tone_bursts([(3.0, 7.0)], 10.0, level_db=-60.0)
    silent = Audio(np.zeros((1, 10 * RATE), np.float32), RATE)
    spans = stem_activity({"vocals": loud, "piano": bleed, "other": silent})
    assert spans["piano"] == [] and spans["other"] == []
    assert spans["vocals"] == [(0.0, 10.0)]
    assert stem_activity({}) == {}
