"""The stemdesk window: PySide6 and pyqtgraph live here and nowhere else.

Models (`MixerModel`, `SeparationQueue`, `Transport`) hold state and fire
signals; views (`SongViews`, `MixerPanel`, `TransportBar`, ...) subscribe.
Workers turn the core's plain progress/cancel callbacks into signals. The
entry point is :func:`stemdesk.gui.app.run_app`.
"""
