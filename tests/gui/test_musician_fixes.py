"""What a musician hit in the window (issue 12, part 9), each checked on the real window offscreen."""

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from stemdesk.display import song_picture
from stemdesk.gui import theme
from stemdesk.gui.separation_queue import TimeLeft, describe_progress
from stemdesk.gui.song_views import SongViews
from stemdesk.catalogue import Catalogue
from tests.gui.song_files import tiled
from tests.gui.windows import SEPARATION_TIMEOUT_MS, make_window

# A preset whose first stem has the name of one of the default model's stems.
PRESET = {
    "id": "vocals-twice", "name": "Vocals, backing and band", "version": "1.0.0", "kind": "preset",
    "steps": [{"model": "spleeter-2stems", "keep": "vocals"},
              {"model": "spleeter-2stems", "keep": "vocals", "as": "backing"}],
    "residual": "band",
}
# Mean change of a mask pixel's RGB (0-1) under the loop's shading; the old shading (alpha 34, thin edges) gives 0.056.
LOOP_VISIBLE = 0.08
SIX_STEMS = ("vocals", "drums", "bass", "guitar", "piano", "other")  # the band preset's


@pytest.fixture
def preset_window(qtbot, settings, tmp_path, filled_cache_root, null_sound_output, model_folder, demo_path):
    (model_folder / "vocals-twice.json").write_text(json.dumps(PRESET))
    cache_root = tmp_path / "cache"
    shutil.copytree(filled_cache_root, cache_root)
    window = make_window(qtbot, settings, cache_root, repo=Catalogue([model_folder]))
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.open_song(demo_path)
    yield window
    window.close()


def ticked(window):
    return [action.data() for action in window.model_menu.model_actions.actions() if action.isChecked()]


def test_a_model_chosen_while_playing_takes_over_when_ready_keeping_the_practice_setup(preset_window, qtbot):
    window = preset_window
    rate = window.transport.rate
    window.mixer_model.set_gain("vocals", -6.0)
    window.mixer_model.set_mute("vocals", True)
    window.practice.set_loop((2.0, 6.0), looping=True)  # keeps playing on the clockless null device
    window.views.zoom_to(1.0, 7.0)
    window.transport.seek_seconds(3.0)
    window.transport.play()

    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS) as shown:
        window.model_menu.choose("vocals-twice")
        # Until the new stems are ready, the tick stays with the stems one hears.
        assert ticked(window) == ["spleeter-2stems"]
    assert tuple(shown.args[0].session.stems) == ("vocals", "backing", "band") == window.mixer_model.stems
    assert not window.banner.isVisible() or "ready" not in window.banner.text
    assert ticked(window) == ["vocals-twice"]
    assert window.transport.is_playing, "the music goes on with the new stems"
    assert window.practice.state.loop == (2.0, 6.0) and window.practice.state.looping
    assert window.transport.mixer.state.loop == (2 * rate, 6 * rate)
    assert 2 * rate <= window.transport.position <= 6 * rate
    assert np.allclose(window.views.visible_span(), (1.0, 7.0), atol=1e-6)
    vocals = window.transport.mixer.state.controls["vocals"]
    assert (vocals.gain_db, vocals.mute) == (-6.0, True), "a stem of the same name keeps its strip"
    assert window.mixer_panel.strips["vocals"].mute.isChecked()

    # Going back is instant (the cache) and choosing the model on screen again changes nothing.
    with qtbot.waitSignal(window.song_shown, timeout=SEPARATION_TIMEOUT_MS):
        window.model_menu.choose("spleeter-2stems")
    assert ticked(window) == ["spleeter-2stems"] and window.mixer_model.stems == ("vocals", "accompaniment")
    window.model_menu.choose("spleeter-2stems")
    assert not window.queue.busy and window.transport.is_playing
    window.transport.pause()


def test_another_song_ready_while_playing_waits_with_a_notice_that_stays(demo_window, qtbot, tmp_path, demo_path):
    window = demo_window
    window.practice.set_loop((0.0, 10.0), looping=True)
    window.transport.play()
    other = shutil.copy(demo_path, tmp_path / "next song.mp3")
    with qtbot.waitSignal(window.queue.song_ready, timeout=30_000):
        window.open_song(other)
    assert window.banner.action_button.text() == "Open it now"
    assert not window.banner._timer.isActive(), "a question does not vanish before it is answered"
    window.transport.pause()


def test_the_overview_spans_a_longer_song_opened_after_a_short_one(qtbot, demo_audio):
    views = SongViews()
    qtbot.addWidget(views)
    views.resize(1000, 500)
    views.show()
    rate = demo_audio.rate
    for audio in (demo_audio, tiled(demo_audio, 3)):
        stems = {"all": audio.samples}
        views.show_picture(song_picture(audio.samples, stems, rate), "all", theme.ACCENT)
    duration = views.picture.duration
    assert duration > 30
    assert np.allclose(views.overview.vb.viewRange()[0], (0.0, duration), atol=1e-6)
    assert np.allclose(views.visible_region.getRegion(), (0.0, duration), atol=1e-6)
    seeks = []
    views.seek_requested.connect(seeks.append)
    middle = views.overview.vb.mapViewToScene(views.overview.vb.viewRect().center())
    qtbot.mouseClick(views.canvas.viewport(), Qt.MouseButton.LeftButton, pos=views.canvas.mapFromScene(middle))
    assert abs(seeks[-1] - duration / 2) < 0.02 * duration


def fit_window(window, width, height, qtbot):
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.size().width() == width and window.size().height() == height)
    QApplication.processEvents()


def test_six_stems_fit_a_1280_by_720_window_with_every_solo_button_in_sight(cached_window, qtbot):
    window = cached_window
    window.mixer_model.reset(SIX_STEMS)
    fit_window(window, 1280, 720, qtbot)
    assert window.minimumSizeHint().width() <= 1280 and window.minimumSizeHint().height() <= 720
    strips = list(window.mixer_panel.strips.values())
    for strip in strips:
        solo = strip.solo
        corner = solo.mapTo(window, QPoint(solo.width() - 1, solo.height() - 1))
        assert solo.isVisible() and window.rect().contains(corner), f"{strip.name}'s Solo is out of sight"
        assert strip.rect().contains(solo.geometry().translated(solo.parentWidget().pos() - strip.pos()))
        assert strip.title.text() == strip.name.capitalize(), "a name is shrunk before it is cut"
    edges = [(strip.mapTo(window, QPoint(0, 0)).x(), strip.width()) for strip in strips]
    assert all(left + width <= next_left for (left, width), (next_left, _) in zip(edges, edges[1:]))


def test_accompaniment_is_spelled_out_on_its_strip(demo_window):
    assert demo_window.mixer_panel.strips["accompaniment"].title.text() == "Accompaniment"


def test_every_model_gives_its_stems_distinct_colours():
    for card in Catalogue().list():
        colours = theme.stem_colours(card.stems)
        assert len(set(colours.values())) == len(card.stems), f"{card.id}: {colours}"
    assert len(set(theme.stem_colours(SIX_STEMS + ("rest", "accompaniment")).values())) == 8


def brightness(strip):
    """Mean lightness of ``strip`` as drawn in its panel (a widget's own grab leaves out its effects)."""
    image = strip.parentWidget().grab(strip.geometry()).toImage()
    pixels = [image.pixelColor(x, y).lightnessF() for x in range(0, image.width(), 3)
              for y in range(0, image.height(), 3)]
    return float(np.mean(pixels))


def test_strips_silenced_by_another_stems_solo_are_dimmed(demo_window, qtbot):
    strips = demo_window.mixer_panel.strips
    before = brightness(strips["accompaniment"])
    qtbot.mouseClick(strips["vocals"].solo, Qt.MouseButton.LeftButton)
    assert strips["accompaniment"].silenced and not strips["vocals"].silenced
    assert brightness(strips["accompaniment"]) < 0.75 * before


def region_pixels(views, plot, start, end):
    """The canvas pixels of ``plot`` between ``start`` and ``end`` seconds, RGB floats ``(n, 3)``."""
    image = views.canvas.grab().toImage()
    ratio = image.width() / views.canvas.width()
    low, high = plot.vb.viewRange()[1]
    corner_a = views.canvas.mapFromScene(plot.vb.mapViewToScene(QPointF(start, high)))
    corner_b = views.canvas.mapFromScene(plot.vb.mapViewToScene(QPointF(end, low)))
    xs = range(int(corner_a.x() * ratio) + 4, int(corner_b.x() * ratio) - 4, 2)
    ys = range(int(corner_a.y() * ratio) + 4, int(corner_b.y() * ratio) - 4, 3)
    return np.array([image.pixelColor(x, y).getRgbF()[:3] for x in xs for y in ys])


def test_the_loop_shows_on_the_mask_view(demo_window, qtbot):
    views = demo_window.views
    qtbot.waitUntil(lambda: any(views.activity.values()), timeout=60_000)  # the layout is final
    demo_window.mixer_model.select("accompaniment")  # the brighter mask
    demo_window.practice.set_loop((4.0, 6.0), looping=True)
    QApplication.processEvents()
    looped = region_pixels(views, views.mask, 4.0, 6.0)
    demo_window.practice.set_loop(None)
    QApplication.processEvents()
    plain = region_pixels(views, views.mask, 4.0, 6.0)
    change = float(np.mean(np.abs(looped - plain)))
    print(f"loop shading changes the mask's pixels by {change:.3f} on average")
    assert change > LOOP_VISIBLE


def test_faders_grow_with_the_window(demo_window, qtbot):
    window = demo_window
    fader = window.mixer_panel.strips["vocals"].fader
    fit_window(window, 1280, 720, qtbot)
    small = fader.height()
    fit_window(window, 1280, 1100, qtbot)
    print(f"vocals fader: {small} px at 1280x720, {fader.height()} px at 1280x1100")
    assert fader.height() >= 1.5 * small, f"fader {small} px at 720 and {fader.height()} px at 1100"


def test_a_presets_progress_names_its_step_and_the_time_left_ramps_instead_of_jumping():
    assert describe_progress(1400, 5000, ("vocals", "drums", "bass", "guitar", "piano")) == (
        "step 2 of 5 · drums · 28 %")
    assert describe_progress(3, 10) == "30 %"
    # A preset's first model is three times faster than the four after it; progress comes
    # in thousandths of each step, as the preset separator reports it.
    events, now = [], 0.0
    for step in range(5):
        for chunk in range(1, 11):
            now += 0.15 if step == 0 else 0.45
            events.append((now, step * 1000 + 100 * chunk, 5000))
    finish = now

    def readouts(estimate):
        return [estimate(now, done, total) for now, done, total in events]

    smooth = TimeLeft()
    shown = readouts(lambda now, done, total: smooth.update(now, now, done, total))
    at_average_pace = readouts(lambda now, done, total: now / done * (total - done))

    def worst_rise(values):
        return max((b - a) / a for a, b in zip(values, values[1:]))

    def mean_error(values):
        errors = [abs(v - (finish - t)) / (finish - t + 1) for v, (t, _, _) in zip(values, events) if t > 3]
        return float(np.mean(errors))

    print(f"time left: worst rise {worst_rise(shown):.3f} smoothed vs {worst_rise(at_average_pace):.3f} at the"
          f" average pace; mean error {mean_error(shown):.2f} vs {mean_error(at_average_pace):.2f}")
    assert worst_rise(shown) < 0.08 < worst_rise(at_average_pace)
    assert mean_error(shown) < mean_error(at_average_pace)
