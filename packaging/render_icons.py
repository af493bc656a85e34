"""Render the app icon's SVG to the PNG sizes desktops look up: ``python packaging/render_icons.py``.

The PNGs are committed next to the SVG in an XDG icon-theme tree
(``resources/icons/hicolor/<size>x<size>/apps/``), so installing the icon is
one copy and the bundle needs no SVG renderer at start-up. Run this again
after editing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons" / "hicolor"
APP_ID = "io.github.stemdesk.Stemdesk"
SVG = ICONS / "scalable" / "apps" / f"{APP_ID}.svg"
SIZES = (48, 128, 256)


def png_path(size: int) -> Path:
    return ICONS / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def render(svg: Path, size: int, out: Path) -> None:
    """Draw ``svg`` into a transparent ``size`` x ``size`` PNG at ``out``."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out}: could not be written")


def main() -> int:
    # QPainter on a QImage needs a QGuiApplication (fonts, colour spaces), but no screen.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])  # kept alive while painting
    for size in SIZES:
        render(SVG, size, png_path(size))
        print(png_path(size).relative_to(ICONS.parent.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
