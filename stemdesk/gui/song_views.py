"""The song's pictures: waveform overview, mixture spectrogram and stem mask.

Three pyqtgraph plots on one time axis (seconds). The spectrogram and the mask
share zoom and pan; the overview always shows the whole song with the visible
part as a draggable region. Left click seeks, left drag marks an A-B loop
(snapped to the beat grid unless Alt is held or snapping is off), Shift+drag
moves the grid, the wheel zooms in time, a middle drag pans. Everything drawn
comes from a :class:`~stemdesk.display.SongPicture`, already at display
resolution, and the song's :class:`~stemdesk.analysis.grid.BeatGrid`: beat and
bar lines on the spectrogram and the mask, bar numbers above the spectrogram.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from stemdesk.analysis.grid import BeatGrid
from stemdesk.display import SongPicture
from stemdesk.gui import theme
from stemdesk.practice import snap_span

#: Colour scale of the spectrogram, in dB below the song's loudest cell.
SPECTROGRAM_LEVELS = (-80.0, 0.0)
_AXIS_WIDTH = 52
# Shortest time span one can zoom into, in seconds.
_MIN_SPAN = 0.05
# A drag shorter than this (seconds) is a click, not a loop.
_MIN_LOOP = 0.02
# Bar numbers are at least this many pixels apart (every 2nd, 4th... bar when zoomed out).
_BAR_LABEL_PIXELS = 26
#: The loop's shading (alpha of its colour) when it plays and when it is only marked.
LOOP_ALPHA_ACTIVE, LOOP_ALPHA_MARKED = 64, 28


def format_time(seconds: float, decimals: int = 1) -> str:
    """``m:ss.s`` for the time axis and the transport's clock."""
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60.0)
    width = 3 + decimals if decimals else 2
    return f"{int(minutes)}:{rest:0{width}.{decimals}f}"


class TimeAxis(pg.AxisItem):
    """A bottom axis labelled in minutes and seconds."""

    def tickStrings(self, values, scale, spacing):
        decimals = 0 if spacing >= 1 else (1 if spacing >= 0.1 else 2)
        return [format_time(value, decimals) for value in values]


class BarAxis(pg.AxisItem):
    """A top axis with the bar numbers at the downbeats; thinned out to every 2nd, 4th... bar."""

    def __init__(self):
        super().__init__("top")
        self._downbeats = np.zeros(0)

    def set_downbeats(self, downbeats: np.ndarray) -> None:
        self._downbeats = np.asarray(downbeats, dtype=np.float64)
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):
        downbeats = self._downbeats
        if not len(downbeats) or maxVal <= minVal:
            return []
        bar = float(np.median(np.diff(downbeats))) if len(downbeats) > 1 else maxVal - minVal
        pixels_per_bar = bar * size / (maxVal - minVal)
        every = 1
        while every * pixels_per_bar < _BAR_LABEL_PIXELS:
            every *= 2
        numbers = np.arange(len(downbeats))
        shown = (numbers % every == 0) & (downbeats >= minVal) & (downbeats <= maxVal)
        return [(bar * every, list(downbeats[shown]))]

    def tickStrings(self, values, scale, spacing):
        return [str(int(np.argmin(np.abs(self._downbeats - value))) + 1) for value in values]


class LogFrequencyAxis(pg.AxisItem):
    """A left axis for rows placed at log10(Hz): ticks at round frequencies.

    A short plot gets only the decades, so its labels never overlap.
    """

    _DECADES = (100, 1_000, 10_000)
    _MAJOR = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000)
    _MINOR = (30, 40, 60, 70, 80, 90, 300, 400, 600, 700, 800, 900,
              3_000, 4_000, 6_000, 7_000, 8_000, 9_000)
    # Below this height in pixels, the 1-2-5 labels would touch.
    _DENSE_HEIGHT = 170

    def tickValues(self, minVal, maxVal, size):
        def inside(frequencies):
            return [math.log10(f) for f in frequencies if minVal <= math.log10(f) <= maxVal]

        if size < self._DENSE_HEIGHT:
            return [(1.0, inside(self._DECADES)), (0.1, inside(self._MAJOR + self._MINOR))]
        return [(1.0, inside(self._MAJOR)), (0.1, inside(self._MINOR))]

    def tickStrings(self, values, scale, spacing):
        if spacing < 1.0:
            return ["" for _ in values]
        labels = []
        for value in values:
            hz = 10.0**value
            labels.append(f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:.0f}")
        return labels


class TimelineViewBox(pg.ViewBox):
    """A view box whose left button seeks (click) and marks a span (drag).

    Signals (x in seconds):
        clicked(x): a left click.
        span_dragged(x0, x1, finished, free): a left drag, while it goes and at
            its end; ``free`` when Alt is held (no snapping).
        grid_dragged(dx, finished): a Shift+left drag, by ``dx`` seconds so far.
    """

    clicked = Signal(float)
    span_dragged = Signal(float, float, bool, bool)
    grid_dragged = Signal(float, bool)

    def __init__(self, drag_marks_span: bool = True):
        super().__init__(enableMenu=False)
        self._drag_marks_span = drag_marks_span

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()).x())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if not self._drag_marks_span:
            return
        start = self.mapSceneToView(ev.buttonDownScenePos(Qt.MouseButton.LeftButton)).x()
        end = self.mapSceneToView(ev.scenePos()).x()
        modifiers = ev.modifiers()
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            self.grid_dragged.emit(end - start, ev.isFinish())
            return
        free = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        self.span_dragged.emit(min(start, end), max(start, end), ev.isFinish(), free)


class LaneViewBox(pg.ViewBox):
    """The activity lanes' view box: a left click reports where (x seconds, y lane).

    Signals:
        lane_clicked(x, y).
    """

    lane_clicked = Signal(float, float)

    def __init__(self):
        super().__init__(enableMenu=False)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapSceneToView(ev.scenePos())
            self.lane_clicked.emit(point.x(), point.y())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):
        ev.ignore()


class SongViews(QWidget):
    """The overview, spectrogram and mask plots of one song.

    Signals (seconds):
        seek_requested(seconds): the musician clicked a time.
        loop_selected(start, end): the musician marked or moved the A-B span.
        grid_shift_requested(seconds): the musician dragged the grid by ``seconds``.
        span_loop_requested(start, end): the musician clicked a span of a stem's activity lane.
    """

    seek_requested = Signal(float)
    loop_selected = Signal(float, float)
    grid_shift_requested = Signal(float)
    span_loop_requested = Signal(float, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._picture: SongPicture | None = None
        self._image_rect = QRectF()
        self._mask_stem = ""
        self._mask_colour = theme.ACCENT
        self._syncing_range = False
        self._loop_span: tuple[float, float] | None = None
        self._grid: BeatGrid | None = None
        self.snap = True

        self.canvas = pg.GraphicsLayoutWidget()
        # Songs are dropped on the window; the canvas must not swallow the drag.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        # Keys belong to the window's shortcuts (space, arrows...), never to the plots.
        self.canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.canvas.ci.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

        self.overview = self._add_plot(0, TimelineViewBox(drag_marks_span=False), "Song")
        self.bar_axis = BarAxis()
        self.lanes = self._add_plot(1, LaneViewBox(), "")
        self.spectrogram = self._add_plot(
            2, TimelineViewBox(), "Mixture · dB", LogFrequencyAxis("left"), top=self.bar_axis
        )
        self.mask = self._add_plot(3, TimelineViewBox(), "Mask", LogFrequencyAxis("left"), TimeAxis("bottom"))
        self.mask.setXLink(self.spectrogram)
        self.lanes.setXLink(self.spectrogram)
        self.overview.setMaximumHeight(76)
        self.lanes.setMouseEnabled(x=False, y=False)
        self.lanes.invertY(True)
        self.lanes.hide()
        self._lane_curves: dict[str, pg.PlotCurveItem] = {}
        self._lane_labels: list[pg.TextItem] = []
        self._marker_lines: list[pg.InfiniteLine] = []
        self.lanes.getAxis("left").setTicks([[]])
        self.lanes.getAxis("left").setStyle(showValues=False)
        self.lanes.vb.sigResized.connect(self._place_lane_labels)
        self._activity: dict[str, list[tuple[float, float]]] = {}
        self.lanes.vb.lane_clicked.connect(self._on_lane_clicked)
        self.canvas.ci.layout.setRowStretchFactor(0, 1)
        self.canvas.ci.layout.setRowStretchFactor(1, 1)
        self.canvas.ci.layout.setRowStretchFactor(2, 3)
        self.canvas.ci.layout.setRowStretchFactor(3, 3)
        self.overview.setMouseEnabled(x=False, y=False)
        for plot in (self.spectrogram, self.mask):
            plot.setMouseEnabled(x=True, y=False)

        self.spectrogram_image = pg.ImageItem(axisOrder="row-major")
        self.spectrogram_image.setColorMap(pg.colormap.get("magma"))
        self.spectrogram.addItem(self.spectrogram_image)
        self.mask_image = pg.ImageItem(axisOrder="row-major")
        self.mask.addItem(self.mask_image)
        self._mask_label = self._pinned_label(self.mask, "Mask")

        # One vertical line per envelope column, from its low to its high: a filled
        # outline would look the same and cost ten times more to paint.
        self._waveform = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(theme.ACCENT, width=1), antialias=False)
        self.overview.addItem(self._waveform)

        self.visible_region = pg.LinearRegionItem(
            brush=QColor(255, 255, 255, 16), pen=pg.mkPen(theme.MUTED_TEXT), hoverBrush=QColor(255, 255, 255, 32)
        )
        self.visible_region.setZValue(-5)
        self.visible_region.setToolTip("Visible part of the song: drag to scroll, drag its edges to zoom")
        self.overview.addItem(self.visible_region)
        self.visible_region.sigRegionChanged.connect(self._on_visible_region_moved)
        self.spectrogram.sigXRangeChanged.connect(self._on_detail_range_changed)

        # Beat lines (faint) and bar lines, one curve of vertical pairs each per plot.
        self._grid_curves = []
        for plot in (self.spectrogram, self.mask):
            for colour, width in ((QColor(255, 255, 255, 40), 1), (QColor(255, 255, 255, 120), 1.5)):
                curve = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(colour, width=width), antialias=False)
                curve.setZValue(5)
                plot.addItem(curve, ignoreBounds=True)
                self._grid_curves.append(curve)

        self._loop_regions = []
        for plot in (self.overview, self.spectrogram, self.mask):
            # A strong edge and a bright fill: the loop must show on a bright mask as well as on a dark one.
            region = pg.LinearRegionItem(
                brush=QColor(249, 199, 79, LOOP_ALPHA_ACTIVE), pen=pg.mkPen(theme.WARNING, width=2),
                hoverBrush=QColor(249, 199, 79, LOOP_ALPHA_ACTIVE + 20), movable=plot is not self.overview,
            )
            region.setZValue(10)
            region.setToolTip("A-B loop: drag to move, drag an edge to resize; L turns looping on or off")
            region.hide()
            plot.addItem(region, ignoreBounds=True)
            region.sigRegionChangeFinished.connect(self._on_loop_region_edited)
            self._loop_regions.append(region)

        # Beyond the frontier of a song still being separated: the mixture plays there.
        self._unseparated = []
        for plot in (self.overview, self.spectrogram, self.mask):
            shade = pg.LinearRegionItem(brush=QColor(0, 0, 0, 120), pen=pg.mkPen(theme.MUTED_TEXT, width=1),
                                        movable=False)
            shade.setZValue(5)
            shade.setToolTip("Not separated yet: the song plays as it is here")
            shade.hide()
            plot.addItem(shade, ignoreBounds=True)
            self._unseparated.append(shade)

        self._playheads = []
        for plot in (self.overview, self.spectrogram, self.mask):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffffff", width=1.5))
            line.setZValue(20)
            plot.addItem(line, ignoreBounds=True)
            self._playheads.append(line)

        for plot in (self.overview, self.spectrogram, self.mask):
            plot.vb.clicked.connect(self.seek_requested)
        for plot in (self.spectrogram, self.mask):
            plot.vb.span_dragged.connect(self._on_span_dragged)
            plot.vb.grid_dragged.connect(self._on_grid_dragged)

    def _add_plot(self, row, view_box, title, left=None, bottom=None, top=None) -> pg.PlotItem:
        axes = {"left": left or pg.AxisItem("left")}
        if bottom is not None:
            axes["bottom"] = bottom
        if top is not None:
            axes["top"] = top
        plot = self.canvas.addPlot(row=row, col=0, viewBox=view_box, axisItems=axes)
        plot.getAxis("left").setWidth(_AXIS_WIDTH)
        plot.hideButtons()
        if bottom is None:
            plot.hideAxis("bottom")
        if top is not None:
            plot.showAxis("top")
        if row == 0:
            plot.getAxis("left").setStyle(showValues=False)
            plot.getAxis("left").setTicks([[]])
        if title:
            self._pinned_label(plot, title)
        return plot

    @staticmethod
    def _pinned_label(plot: pg.PlotItem, text: str) -> pg.TextItem:
        # Parented to the view box itself, not its contents: it stays put while panning.
        label = pg.TextItem(text, color=theme.TEXT, fill=QColor(21, 23, 28, 170), anchor=(0, 0))
        label.setParentItem(plot.vb)
        label.setPos(4, 2)
        label.setZValue(30)
        return label

    # --- what is drawn ---------------------------------------------------------------

    @property
    def picture(self) -> SongPicture | None:
        return self._picture

    @property
    def mask_stem(self) -> str:
        """The stem whose mask is drawn ("" when none)."""
        return self._mask_stem

    def show_picture(self, picture: SongPicture, mask_stem: str, colour: str) -> None:
        """Draw a new song, zoomed out to all of it, with ``mask_stem``'s mask."""
        self._picture = picture
        grid = picture.grid
        duration = picture.duration
        frame = grid.frame_seconds
        low, high = math.log10(grid.row_edges[0]), math.log10(grid.row_edges[-1])
        # Frame t is centred on t * hop; each column spans one hop around it.
        rect = QRectF(-frame / 2, low, grid.frames * frame, high - low)
        self._image_rect = rect
        self.spectrogram_image.setImage(picture.spectrogram_db, levels=SPECTROGRAM_LEVELS)
        self.spectrogram_image.setRect(rect)
        self.set_mask(mask_stem, colour)

        lows, highs = picture.envelope
        times = (np.arange(lows.size) + 0.5) * (duration / lows.size)
        ends = np.empty(2 * lows.size, dtype=np.float32)
        ends[0::2], ends[1::2] = lows, highs
        self._waveform.setData(np.repeat(times, 2), ends)
        self.overview.setYRange(-1.0, 1.0, padding=0.02)
        # Limits before ranges: a range is clamped to the limits in force, which are
        # still the previous song's (a longer song's overview would keep its length).
        self.overview.setLimits(xMin=0.0, xMax=duration)
        self.overview.setXRange(0.0, duration, padding=0)
        for plot in (self.spectrogram, self.mask):
            plot.setLimits(xMin=0.0, xMax=duration, yMin=low, yMax=high, minXRange=min(_MIN_SPAN, duration))
            plot.setYRange(low, high, padding=0)
        self.visible_region.setBounds((0.0, duration))
        self.spectrogram.setXRange(0.0, duration, padding=0)
        self.visible_region.setRegion((0.0, duration))
        for region in self._loop_regions:
            region.setBounds((0.0, duration))
        self.set_loop_span(None)
        self.set_grid(None)
        self.set_playhead(0.0)

    def set_mask(self, stem: str, colour: str) -> None:
        """Draw ``stem``'s mask, from the background colour (0) to ``colour`` (1)."""
        if self._picture is None or stem not in self._picture.masks:
            return
        self._mask_stem, self._mask_colour = stem, colour
        stops = [QColor(theme.BACKGROUND), QColor(colour).darker(130), QColor(colour).lighter(140)]
        colour_map = pg.ColorMap([0.0, 0.6, 1.0], stops)
        self.mask_image.setColorMap(colour_map)
        self.mask_image.setImage(self._picture.masks[stem], levels=(0.0, 1.0))
        # After setImage: the rect is turned into a scale from the image's size.
        self.mask_image.setRect(self._image_rect)
        self._mask_label.setText(f"Mask · {stem}")
        self._mask_label.setColor(QColor(colour))

    def update_masks(self, picture: SongPicture) -> None:
        """Take a newer picture of the same song (masks filled in), keeping zoom, loop and playhead."""
        self._picture = picture
        self.set_mask(self._mask_stem, self._mask_colour)

    @property
    def frontier(self) -> float | None:
        """Seconds separated so far of a song being separated; None when all of it is."""
        shade = self._unseparated[0]
        return float(shade.getRegion()[0]) if shade.isVisible() else None

    def set_frontier(self, seconds: float | None) -> None:
        """Shade the song after ``seconds`` as not separated yet (None: all is separated)."""
        duration = self._picture.duration if self._picture is not None else 0.0
        for shade in self._unseparated:
            if seconds is None or seconds >= duration:
                shade.hide()
            else:
                shade.setRegion((seconds, duration))
                shade.show()

    def visible_span(self) -> tuple[float, float]:
        """The time span (seconds) the spectrogram and mask show."""
        start, end = self.spectrogram.vb.viewRange()[0]
        return float(start), float(end)

    def zoom_to(self, start: float, end: float) -> None:
        self.spectrogram.setXRange(start, end, padding=0)

    # --- playhead and loop -------------------------------------------------------------

    @property
    def playhead(self) -> float:
        """The playhead's time in seconds."""
        return float(self._playheads[0].value())

    def set_playhead(self, seconds: float, follow: bool = False) -> None:
        """Move the playhead; with ``follow``, page the zoomed view to keep it in sight."""
        for line in self._playheads:
            line.setValue(seconds)
        if follow:
            start, end = self.visible_span()
            if not start <= seconds <= end:
                span = end - start
                self.zoom_to(seconds - 0.05 * span, seconds + 0.95 * span)

    @property
    def loop_span(self) -> tuple[float, float] | None:
        """The marked A-B span in seconds, or None."""
        return self._loop_span

    def set_loop_span(self, span: tuple[float, float] | None, active: bool = True) -> None:
        """Show the A-B span (bright when the loop plays, faint when it is off)."""
        self._loop_span = span
        alpha = LOOP_ALPHA_ACTIVE if active else LOOP_ALPHA_MARKED
        for region in self._loop_regions:
            if span is None:
                region.hide()
                continue
            region.blockSignals(True)
            region.setRegion(span)
            region.blockSignals(False)
            region.setBrush(QColor(249, 199, 79, alpha))
            region.show()

    def mark_loop(self, start: float, end: float, free: bool = False) -> None:
        """Mark the A-B span [start, end] seconds, as a finished drag would (snapped unless ``free``)."""
        self._on_span_dragged(start, end, True, free)

    def _on_span_dragged(self, start: float, end: float, finished: bool, free: bool = False) -> None:
        if self._picture is None:
            return
        start, end = max(0.0, start), min(self._picture.duration, end)
        if end - start < _MIN_LOOP:
            return
        if self.snap and not free and self._grid is not None and len(self._grid.beats) >= 2:
            start, end = snap_span(self._grid, start, end)
        for region in self._loop_regions:
            region.blockSignals(True)
            region.setRegion((start, end))
            region.blockSignals(False)
            region.show()
        if finished:
            self._loop_span = (start, end)
            self.loop_selected.emit(start, end)

    def _on_loop_region_edited(self, region: pg.LinearRegionItem) -> None:
        start, end = region.getRegion()
        free = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.AltModifier)
        if self.snap and not free and self._grid is not None and len(self._grid.beats) >= 2:
            start, end = snap_span(self._grid, start, end)
            self.set_loop_span((start, end), region.brush.color().alpha() == LOOP_ALPHA_ACTIVE)
        if end - start >= _MIN_LOOP:
            self._loop_span = (float(start), float(end))
            self.loop_selected.emit(float(start), float(end))

    # --- markers -----------------------------------------------------------------------

    @property
    def markers(self) -> list[tuple[str, float]]:
        """The named markers drawn on the overview, as (name, seconds)."""
        return [(line.label.toPlainText(), float(line.value())) for line in self._marker_lines]

    def set_markers(self, markers) -> None:
        """Draw each marker (``.name``, ``.seconds``) as a labelled line on the overview."""
        for line in self._marker_lines:
            self.overview.removeItem(line)
        self._marker_lines = []
        for marker in markers:
            line = pg.InfiniteLine(
                marker.seconds, angle=90, movable=False, pen=pg.mkPen(theme.TEXT, width=1, style=Qt.PenStyle.DashLine),
                label=marker.name, labelOpts={"position": 0.85, "color": theme.TEXT, "fill": QColor(21, 23, 28, 190)},
            )
            line.setZValue(15)
            self.overview.addItem(line, ignoreBounds=True)
            self._marker_lines.append(line)

    # --- who plays when ----------------------------------------------------------------

    @property
    def activity(self) -> dict[str, list[tuple[float, float]]]:
        """The audible spans of each stem drawn in the lanes (empty: no lanes)."""
        return self._activity

    def set_activity(self, activity: dict[str, list[tuple[float, float]]], colours: dict[str, str] | None = None) -> None:
        """One lane per stem above the spectrogram, a bar where the stem is audible; {} hides them."""
        for curve in self._lane_curves.values():
            self.lanes.removeItem(curve)
        for label in self._lane_labels:
            label.setParentItem(None)
            self.canvas.scene().removeItem(label)
        self._lane_curves, self._lane_labels = {}, []
        self._activity = dict(activity)
        self.lanes.setVisible(bool(activity))
        if not activity:
            return
        names = list(activity)
        for lane, name in enumerate(names):
            spans = np.asarray(activity[name], dtype=np.float64).reshape(-1, 2)
            colour = QColor((colours or {}).get(name, theme.ACCENT))
            curve = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(colour, width=7), antialias=False)
            curve.setData(spans.reshape(-1), np.full(spans.size, float(lane)))
            curve.setToolTip(f"{name}: click a bar to loop it")
            self.lanes.addItem(curve)
            self._lane_curves[name] = curve
            label = pg.TextItem(name, color=colour, fill=QColor(21, 23, 28, 190), anchor=(0, 0.5))
            label.setZValue(30)
            label.setParentItem(self.lanes)
            self._lane_labels.append(label)
        self.lanes.setYRange(-0.6, len(names) - 0.4, padding=0)
        self.lanes.setFixedHeight(14 * len(names) + 10)
        self._place_lane_labels()

    def _place_lane_labels(self) -> None:
        # At the lane's left end, level with it (pixels of the plot item), whatever the zoom.
        view = self.lanes.vb
        for lane, label in enumerate(self._lane_labels):
            local = self.lanes.mapFromScene(view.mapViewToScene(QPointF(0, lane)))
            label.setPos(view.pos().x() + 4, local.y())

    def _on_lane_clicked(self, x: float, y: float) -> None:
        names = list(self._activity)
        lane = int(round(y))
        if not 0 <= lane < len(names):
            return
        for start, end in self._activity[names[lane]]:
            if start <= x <= end:
                self.span_loop_requested.emit(float(start), float(end))
                return
        self.seek_requested.emit(x)

    # --- the beat grid -----------------------------------------------------------------

    @property
    def grid(self) -> BeatGrid | None:
        return self._grid

    def set_grid(self, grid: BeatGrid | None) -> None:
        """Draw ``grid``'s beats and bars (nothing for None)."""
        self._grid = grid
        beats = grid.beats if grid is not None else np.zeros(0)
        downbeats = grid.downbeats if grid is not None else np.zeros(0)
        self.bar_axis.set_downbeats(downbeats)
        low, high = self._image_rect.top(), self._image_rect.bottom()
        for index, curve in enumerate(self._grid_curves):
            times = downbeats if index % 2 else np.setdiff1d(beats, downbeats)
            curve.setPos(0, 0)
            curve.setData(np.repeat(times, 2), np.tile([low, high], len(times)))

    def _on_grid_dragged(self, dx: float, finished: bool) -> None:
        if self._grid is None:
            return
        for curve in self._grid_curves:
            curve.setPos(0 if finished else dx, 0)
        if finished and dx:
            self.grid_shift_requested.emit(dx)

    # --- keeping the overview's region and the detail zoom together -----------------------

    def _on_visible_region_moved(self) -> None:
        if self._syncing_range:
            return
        self._syncing_range = True
        start, end = self.visible_region.getRegion()
        self.spectrogram.setXRange(start, end, padding=0)
        self._syncing_range = False

    def _on_detail_range_changed(self, _view, span) -> None:
        if self._syncing_range:
            return
        self._syncing_range = True
        self.visible_region.setRegion(span)
        self._syncing_range = False
