"""The views of a long song appear quickly, and draw what the picture holds where it belongs."""

import sys
import time

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from stemdesk.display import song_picture
from stemdesk.gui.song_views import SongViews, format_time

RATE = 44_100


def test_a_ten_minute_songs_views_appear_within_two_seconds(qtbot):
    views = SongViews()
    qtbot.addWidget(views)
    views.resize(1200, 500)
    views.show()
    qtbot.waitExposed(views)
    rng = np.random.default_rng(0)
    mixture = (0.1 * rng.standard_normal((2, 600 * RATE))).astype(np.float32)
    vocals = 0.25 * mixture
    stems = {"vocals": vocals, "accompaniment": mixture - vocals}

    started = time.perf_counter()
    picture = song_picture(mixture, stems, RATE)
    views.show_picture(picture, "vocals", "#ff5c8a")
    views.canvas.viewport().repaint()
    QApplication.processEvents()
    seconds = time.perf_counter() - started
    print(f"10-minute song: picture and views drawn in {seconds:.2f} s", file=sys.stderr)
    assert seconds < 2.0
    assert views.visible_span() == (0.0, picture.duration)
    assert abs(picture.duration - 600.0) < 1e-9


def test_a_tone_is_drawn_at_its_frequency_and_time(qtbot):
    views = SongViews()
    qtbot.addWidget(views)
    views.resize(900, 500)
    views.show()
    t = np.arange(4 * RATE) / RATE
    tone = np.where(t >= 2.0, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    tone = np.repeat(tone[None], 2, axis=0)
    quiet = np.repeat((0.01 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)[None], 2, axis=0)
    picture = song_picture(tone + quiet, {"tone": tone, "hum": quiet}, RATE)
    views.show_picture(picture, "tone", "#4cc9f0")

    # The loudest cell of the column at 3 s, mapped from image pixels to the plot's
    # (seconds, log10 Hz) coordinates, sits at 3 s and 1 kHz.
    image = views.spectrogram_image
    grid = picture.grid
    column = int(3.0 / grid.frame_seconds)
    row = int(np.argmax(picture.spectrogram_db[:, column]))
    point = image.mapToView(QPointF(column + 0.5, row + 0.5))
    assert abs(point.x() - 3.0) < 2 * grid.frame_seconds
    assert abs(10 ** point.y() - 1000) < 0.05 * 1000
    # Before the tone starts, the 1 kHz row is dark.
    assert picture.spectrogram_db[row, int(1.0 / grid.frame_seconds)] < -60
    assert views.mask_stem == "tone"
    views.set_mask("hum", "#90be6d")
    assert views.mask_stem == "hum" and np.array_equal(views.mask_image.image, picture.masks["hum"])


def test_clock_format():
    assert format_time(0.0) == "0:00.0"
    assert format_time(65.432, 2) == "1:05.43"
    assert format_time(600.0, 0) == "10:00"
    assert format_time(-1.0) == "0:00.0"
