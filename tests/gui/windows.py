"""Making a window for a test: isolated settings and cache, shown offscreen."""

from stemdesk.gui.main_window import MainWindow

#: Generous: the real model on a loaded two-core machine.
SEPARATION_TIMEOUT_MS = 120_000


def make_window(qtbot, settings, cache_root, **kwargs) -> MainWindow:
    """A shown window; its practice set-ups and grids are kept beside ``cache_root`` unless ``data_root`` is given."""
    kwargs.setdefault("data_root", cache_root.parent / "data")
    window = MainWindow(settings, cache_root=cache_root, **kwargs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window
