"""The dark look: a Fusion palette, one style sheet and a colour per stem."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#15171c"
PANEL = "#1d2027"
RAISED = "#262a33"
BORDER = "#323743"
TEXT = "#e4e7ee"
MUTED_TEXT = "#8b93a5"
ACCENT = "#4cc9f0"
ERROR = "#ff6b6b"
WARNING = "#f9c74f"
MUTE_ON = "#f9c74f"
SOLO_ON = "#90be6d"

# Familiar stems get familiar colours; any other name takes the next spare one not in use.
_STEM_COLOURS = {
    "vocals": "#ff5c8a",
    "accompaniment": "#4cc9f0",
    "drums": "#f9c74f",
    "bass": "#90be6d",
    "other": "#b388ff",
    "piano": "#f8961e",
    "guitar": "#43aa8b",
}
_SPARE_COLOURS = ("#f94144", "#ffd6a5", "#577590", "#b5838d", "#00b4d8", "#9d4edd")
CLICK_COLOUR = "#e5e5e5"


def stem_colours(stems: tuple[str, ...]) -> dict[str, str]:
    """A hex colour per stem of one model: familiar names their own, the others distinct spare ones."""
    colours = {name: _STEM_COLOURS[name.lower()] for name in stems if name.lower() in _STEM_COLOURS}
    spare = [colour for colour in _SPARE_COLOURS if colour not in colours.values()]
    for index, name in enumerate(name for name in stems if name not in colours):
        colours[name] = spare[index % len(spare)]
    return {name: colours[name] for name in stems}


STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QToolTip {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QMenuBar {{ background: {PANEL}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: {RAISED}; }}
QMenu {{ background: {PANEL}; border: 1px solid {BORDER}; }}
QMenu::item:disabled {{ color: {MUTED_TEXT}; }}
QStatusBar {{ background: {PANEL}; color: {MUTED_TEXT}; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 6px; }}
QPushButton, QToolButton {{
    background: {RAISED}; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px 10px;
}}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled, QToolButton:disabled {{ color: {MUTED_TEXT}; }}
QToolButton#transport {{ font-size: 14pt; min-width: 34px; min-height: 28px; padding: 2px 8px; }}
QToolButton#transport:checked {{ background: {ACCENT}; color: {BACKGROUND}; }}
QToolButton#mute, QToolButton#solo {{ padding: 2px 0px; }}
QToolButton#mute:checked {{ background: {MUTE_ON}; color: {BACKGROUND}; font-weight: bold; }}
QToolButton#solo:checked {{ background: {SOLO_ON}; color: {BACKGROUND}; font-weight: bold; }}
QLabel#time {{ font-family: monospace; font-size: 15pt; color: {ACCENT}; padding: 0 8px; }}
QLabel#stripName {{ font-weight: bold; }}
QLabel#dim {{ color: {MUTED_TEXT}; }}
QProgressBar {{
    background: {RAISED}; border: 1px solid {BORDER}; border-radius: 4px; text-align: center; height: 16px;
}}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QSlider::groove:vertical {{ background: {RAISED}; width: 6px; border-radius: 3px; }}
QSlider::add-page:vertical {{ background: #2f6f86; width: 6px; border-radius: 3px; }}
QSlider::sub-page:vertical {{ background: {BACKGROUND}; width: 6px; border-radius: 3px; }}
QSlider::handle:vertical {{
    background: {TEXT}; height: 10px; margin: 0 -9px; border-radius: 3px; border: 1px solid {BORDER};
}}
QSlider:disabled::add-page:vertical {{ background: {RAISED}; }}
QComboBox, QSpinBox, QLineEdit {{
    background: {RAISED}; border: 1px solid {BORDER}; border-radius: 4px; padding: 3px 6px;
}}
QGroupBox {{ border: 1px solid {BORDER}; border-radius: 6px; margin-top: 10px; padding-top: 8px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED_TEXT}; }}
"""


def apply_theme(app: QApplication) -> None:
    """Give ``app`` the dark Fusion look and pyqtgraph matching colours."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: PANEL,
        QPalette.ColorRole.AlternateBase: RAISED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: RAISED,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: BACKGROUND,
        QPalette.ColorRole.ToolTipBase: RAISED,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: MUTED_TEXT,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(MUTED_TEXT))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(MUTED_TEXT))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
    pg.setConfigOptions(background=BACKGROUND, foreground=MUTED_TEXT, antialias=True)
