"""Transport icons drawn as vector shapes, so they look the same with every font and theme."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap

from stemdesk.gui import theme

_SIZE = 64


def _icon(draw) -> QIcon:
    icon = QIcon()
    for mode, colour in ((QIcon.Mode.Normal, theme.TEXT), (QIcon.Mode.Disabled, theme.BORDER)):
        pixmap = QPixmap(_SIZE, _SIZE)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        draw(painter)
        painter.end()
        icon.addPixmap(pixmap, mode)
    return icon


def _triangle(painter: QPainter, left: float, right: float) -> None:
    path = QPainterPath(QPointF(left, 12))
    path.lineTo(right, _SIZE / 2)
    path.lineTo(left, _SIZE - 12)
    path.closeSubpath()
    painter.drawPath(path)


def play_icon() -> QIcon:
    return _icon(lambda painter: _triangle(painter, 18, 52))


def pause_icon() -> QIcon:
    def draw(painter: QPainter) -> None:
        painter.drawRoundedRect(QRectF(16, 12, 11, 40), 2, 2)
        painter.drawRoundedRect(QRectF(37, 12, 11, 40), 2, 2)

    return _icon(draw)


def to_start_icon() -> QIcon:
    def draw(painter: QPainter) -> None:
        painter.drawRoundedRect(QRectF(12, 12, 8, 40), 2, 2)
        path = QPainterPath(QPointF(52, 12))
        path.lineTo(22, _SIZE / 2)
        path.lineTo(52, _SIZE - 12)
        path.closeSubpath()
        painter.drawPath(path)

    return _icon(draw)
