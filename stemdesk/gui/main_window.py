"""The main window: wires the models (queue, mixer, transport) to their views.

Layout, top to bottom: a message banner (only when there is something to
say), the separation strip (only while separating), the song's views (or a
drop hint), the transport bar, and the mixer strips beside the song's card
with the Export button. Every error a user can cause ends up in the banner
and the status bar, never in a modal dialog, and the window keeps working.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from stemdesk.audio import SUPPORTED_SUFFIXES
from stemdesk.cli import DEMO_SONG
from stemdesk.errors import StemdeskError
from stemdesk.gui import theme
from stemdesk.gui.export_dialog import ExportDialog
from stemdesk.gui.exporting import ExportRequest, ExportRunner
from stemdesk.gui.info_cards import DropHint, ShortcutCard, SongCard
from stemdesk.gui.message_banner import MessageBanner
from stemdesk.gui.mixer_model import MixerModel
from stemdesk.gui.mixer_panel import MixerPanel
from stemdesk.gui.preferences import Preferences, RecentFiles
from stemdesk.gui.preferences_dialog import PreferencesDialog
from stemdesk.gui.separation_panel import SeparationPanel
from stemdesk.gui.separation_queue import LoadedSong, SeparationQueue
from stemdesk.gui.song_views import SongViews
from stemdesk.gui.transport import Transport
from stemdesk.gui.transport_bar import TransportBar
from stemdesk.models import ModelRepo
from stemdesk.playback import MixerState
from stemdesk.presets import check_installed, separation_choices
from stemdesk.stem_cache import StemCache

log = logging.getLogger(__name__)

APP_NAME = "stemdesk"
#: Seconds the arrow keys move the playhead (with Shift: the fine step).
SEEK_STEP, FINE_SEEK_STEP = 5.0, 1.0


class MainWindow(QMainWindow):
    """The stemdesk window.

    Args:
        settings: where preferences and recent files live (tests pass an ini file).
        cache_root: the stem cache folder; default the user's cache folder.
        repo: where separation models and presets are found.
        model_id: the model or preset to separate with; default the one chosen
            last in the Model menu (kept in the preferences).

    Signals:
        song_shown(LoadedSong): a song is on screen, ready to play and export.
        song_growing_shown(LoadedSong): a song still being separated is on
            screen and playable (its first chunk is done); song_shown follows.
        export_finished(list): the paths an export wrote.
        export_failed(str): why an export failed.
        cache_cleared(bytes_left): the stem cache was cleared.
    """

    song_shown = Signal(object)
    song_growing_shown = Signal(object)
    export_finished = Signal(list)
    export_failed = Signal(str)
    cache_cleared = Signal(int)

    def __init__(
        self,
        settings: QSettings,
        cache_root: Path | None = None,
        repo: ModelRepo | None = None,
        model_id: str | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.settings = settings
        self.preferences = Preferences.load(settings)
        self.cache = StemCache(cache_root, max_bytes=self.preferences.cache_max_bytes)
        self.repo = repo if repo is not None else ModelRepo()
        if model_id is not None:
            self.preferences = replace(self.preferences, separation_model=model_id)
        self.queue = SeparationQueue(
            self.repo, self.preferences.separation_model, self.cache, self.preferences.compute_device, self
        )
        self.mixer_model = MixerModel(self)
        self.transport = Transport(self)
        self.transport.set_output(self.preferences.output_device, self.preferences.buffer_size)
        self.recent = RecentFiles(settings, self)
        self.song: LoadedSong | None = None
        self.device_name = ""
        self.exports = ExportRunner(self)
        self._loop_span: tuple[float, float] | None = None
        self._dialogs: list = []

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self._build_widgets()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._connect()
        self._check_model(self.preferences.separation_model)

    # --- construction --------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.banner = MessageBanner()
        self.separation_panel = SeparationPanel(self.queue)
        self.views = SongViews()
        self.drop_hint = DropHint(demo_available=DEMO_SONG.is_file())
        self.drop_hint.demo_requested.connect(lambda: self.open_song(DEMO_SONG))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_hint)
        self.stack.addWidget(self.views)
        self.transport_bar = TransportBar()
        self.transport_bar.setEnabled(False)
        self.mixer_panel = MixerPanel(self.mixer_model)
        self.song_card = SongCard()
        self.shortcut_card = ShortcutCard()

        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.mixer_panel, 1)
        bottom.addWidget(self.shortcut_card)
        bottom.addWidget(self.song_card)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.separation_panel)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.transport_bar)
        layout.addLayout(bottom)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.export_progress = QProgressBar()
        self.export_progress.setMaximumWidth(160)
        self.export_progress.setFormat("export %v/%m")
        self.export_progress.hide()
        self.device_label = QLabel(f"Separation: {self.preferences.compute_device}")
        self.device_label.setToolTip("Where the separation network runs")
        self.output_label = QLabel("Output: —")
        self.output_label.setToolTip("Sound output used for playback (Preferences)")
        status.addPermanentWidget(self.export_progress)
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.output_label)

    def _action(self, text: str, slot, shortcut=None, tooltip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tooltip:
            action.setToolTip(tooltip)
            action.setStatusTip(tooltip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        # On the window itself, so the shortcuts work wherever the focus is.
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        model, transport = self.mixer_model, self.transport
        self.open_action = self._action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.demo_action = self._action("Open the &demo song", lambda: self.open_song(DEMO_SONG))
        self.demo_action.setEnabled(DEMO_SONG.is_file())
        self.export_action = self._action("&Export…", self.show_export_dialog, "Ctrl+E")
        self.cancel_action = self._action("&Cancel separation", self.queue.cancel, "Esc")
        self.preferences_action = self._action("&Preferences…", self.show_preferences, "Ctrl+,")
        self.clear_cache_action = self._action(
            "C&lear stem cache", self.clear_cache, tooltip="Delete every separated song kept on disk"
        )
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.play_action = self._action("&Play / pause", transport.toggle, Qt.Key.Key_Space)
        self.to_start_action = self._action("Back to the &start", lambda: transport.seek(0), Qt.Key.Key_Home)
        self.back_action = self._action(
            f"Back {SEEK_STEP:g} s", lambda: transport.seek_by(-SEEK_STEP), Qt.Key.Key_Left
        )
        self.forward_action = self._action(
            f"Forward {SEEK_STEP:g} s", lambda: transport.seek_by(SEEK_STEP), Qt.Key.Key_Right
        )
        self.fine_back_action = self._action(
            f"Back {FINE_SEEK_STEP:g} s", lambda: transport.seek_by(-FINE_SEEK_STEP), "Shift+Left"
        )
        self.fine_forward_action = self._action(
            f"Forward {FINE_SEEK_STEP:g} s", lambda: transport.seek_by(FINE_SEEK_STEP), "Shift+Right"
        )
        self.loop_action = self._action("A-B &loop", self.toggle_loop, Qt.Key.Key_L, checkable=True)
        self.mute_action = self._action("&Mute selected stem", lambda: model.toggle_mute(), Qt.Key.Key_M)
        self.solo_action = self._action("&Solo selected stem", lambda: model.toggle_solo(), Qt.Key.Key_S)
        self.zoom_all_action = self._action("Show the &whole song", self._zoom_all, "Ctrl+0")
        self.select_actions = [
            self._action(f"Select stem {key}", lambda _checked=False, i=key - 1: model.select_index(i), str(key))
            for key in range(1, 10)
        ]
        self._song_actions = [
            self.export_action, self.play_action, self.to_start_action, self.back_action, self.forward_action,
            self.fine_back_action, self.fine_forward_action, self.loop_action, self.mute_action, self.solo_action,
            self.zoom_all_action, *self.select_actions,
        ]
        for action in self._song_actions:
            action.setEnabled(False)
        self.cancel_action.setEnabled(False)

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.cancel_action)
        file_menu.addAction(self.clear_cache_action)
        file_menu.addAction(self.preferences_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        play_menu = menus.addMenu("&Playback")
        for action in (self.play_action, self.to_start_action, self.back_action, self.forward_action,
                       self.fine_back_action, self.fine_forward_action):
            play_menu.addAction(action)
        play_menu.addSeparator()
        play_menu.addAction(self.loop_action)
        play_menu.addAction(self.zoom_all_action)
        self.model_menu = menus.addMenu("Mo&del")
        self._build_model_menu()
        mixer_menu = menus.addMenu("&Mixer")
        mixer_menu.addAction(self.mute_action)
        mixer_menu.addAction(self.solo_action)
        mixer_menu.addSeparator()
        for action in self.select_actions:
            mixer_menu.addAction(action)
        self._rebuild_recent_menu()

    def _connect(self) -> None:
        self.queue.song_ready.connect(self._on_song_ready)
        self.queue.song_growing.connect(self._on_song_growing)
        self.queue.progressed.connect(self._show_frontier)
        self.queue.failed.connect(self._on_separation_failed)
        self.queue.cancelled.connect(self._on_separation_cancelled)
        self.queue.device_ready.connect(self._on_device_ready)
        self.queue.started.connect(lambda path: self.cancel_action.setEnabled(True))
        self.queue.idle.connect(lambda: self.cancel_action.setEnabled(False))
        self.queue.queue_changed.connect(self._update_title)

        self.mixer_model.state_changed.connect(self._on_mixer_state)
        self.mixer_model.selection_changed.connect(self._on_selection)

        self.transport.position_changed.connect(self._on_position)
        self.transport.playing_changed.connect(self.transport_bar.show_playing)
        self.transport.output_changed.connect(self._on_output_changed)

        self.views.seek_requested.connect(self.transport.seek_seconds)
        self.views.loop_selected.connect(self._on_loop_selected)
        self.transport_bar.play_clicked.connect(self.transport.toggle)
        self.transport_bar.to_start_clicked.connect(lambda: self.transport.seek(0))
        self.transport_bar.loop_clicked.connect(lambda on: self.toggle_loop())
        self.song_card.export_button.clicked.connect(self.show_export_dialog)
        self.exports.started.connect(self._on_export_started)
        self.exports.progressed.connect(self._on_export_progress)
        self.exports.finished.connect(self._on_export_done)
        self.exports.failed.connect(self._on_export_failed)
        self.recent.changed.connect(self._rebuild_recent_menu)

    def _check_model(self, model_id: str) -> None:
        try:
            check_installed(model_id, self.repo)
        except StemdeskError as error:
            self.show_message(f"{error} Songs cannot be separated until the model is installed.", "error")

    def _build_model_menu(self) -> None:
        """One radio item per installed model and preset; the current one checked."""
        self.model_menu.clear()
        self.model_actions = QActionGroup(self)
        for model_id, name in separation_choices(self.repo):
            action = self.model_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(model_id == self.queue.model_id)
            action.setData(model_id)
            action.setToolTip(model_id)
            action.triggered.connect(lambda _checked=False, chosen=model_id: self.choose_model(chosen))
            self.model_actions.addAction(action)

    def choose_model(self, model_id: str) -> None:
        """Separate with model or preset ``model_id`` from now on, the song on screen too.

        The choice is kept in the preferences. The shown song is queued again:
        the stem cache makes going back to a model used before instant.
        """
        if model_id == self.queue.model_id:
            return
        self.preferences = replace(self.preferences, separation_model=model_id)
        self.preferences.save(self.settings)
        self.queue.set_model(model_id)
        for action in self.model_actions.actions():
            action.setChecked(action.data() == model_id)
        self._check_model(model_id)
        if self.song is not None:
            self.open_song(self.song.session.path)

    # --- opening songs -------------------------------------------------------------------

    def open_song(self, path: str | Path) -> None:
        """Open ``path``: separate it in the background (or take it from the cache).

        While another song is being separated this one waits its turn; the
        window says so.
        """
        path = Path(path).expanduser()
        if not self.queue.add(path):
            self.show_message(f"{path.name} is already being opened.", "info")
        elif path in self.queue.waiting:
            ahead = self.queue.current.name if self.queue.current else "the song before it"
            self.show_message(
                f"{path.name} will be separated after {ahead} ({len(self.queue.waiting)} waiting)."
                " Nothing is lost; Cancel stops only the running song.",
                "info",
            )

    def open_dialog(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(SUPPORTED_SUFFIXES))
        start = str(self.recent.paths()[0].parent) if self.recent.paths() else ""
        paths, _ = QFileDialog.getOpenFileNames(self, "Open songs", start, f"Audio ({patterns});;All files (*)")
        for path in paths:
            self.open_song(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        for path in paths:
            self.open_song(path)

    def _on_song_ready(self, loaded: LoadedSong) -> None:
        self.recent.add(loaded.session.path)
        if self._growing_into(loaded):
            self._finish_growing(loaded)
            return
        if self.transport.is_playing and self.song is not None:
            # Never pull the song from under a musician who is playing along.
            path = loaded.session.path
            open_now = ("Open it now", lambda: self._switch_to(path))
            self.show_message(f"{path.name} is separated and ready.", "info", open_now)
            return
        self.show_song(loaded)

    def _on_song_growing(self, loaded: LoadedSong) -> None:
        """The first chunk is separated: play the song while the rest fills in."""
        if self.transport.is_playing and self.song is not None:
            return  # song_ready offers it when it is done
        self.show_song(loaded)

    def _growing_into(self, loaded: LoadedSong) -> bool:
        """Whether the song on the transport is ``loaded`` while it was being separated."""
        shown = self.song
        return (shown is not None and shown.growing is not None and loaded.growing is None
                and shown.session.path == loaded.session.path and shown.session.card.id == loaded.session.card.id)

    def _finish_growing(self, loaded: LoadedSong) -> None:
        # The transport already plays these stems (now all final): keep it
        # playing where it is, and only bring the views and the card up to date.
        drawn = self.views.picture is self.song.picture
        self.song = loaded
        self.song_card.show_song(loaded, self.device_name or "the CPU")
        self.export_action.setEnabled(True)
        if not drawn:
            QTimer.singleShot(1, lambda: self._draw_song(loaded))
            return
        self.views.set_frontier(None)
        self.views.update_masks(loaded.picture)
        self.song_shown.emit(loaded)

    def _show_frontier(self) -> None:
        growing = self.song.growing if self.song is not None else None
        if growing is not None:
            self.views.set_frontier(growing.frontier / growing.mixture.rate)

    def _switch_to(self, path: Path) -> None:
        # Asked for explicitly: stop playing, so that the song is shown when it is ready.
        self.transport.pause()
        self.open_song(path)

    def show_song(self, loaded: LoadedSong) -> None:
        """Put a separated song on the transport and the mixer, then on screen (``song_shown``)."""
        session = loaded.session
        self.transport.unload()
        self.song = loaded
        self._loop_span = None
        self.mixer_model.reset(session.card.stems)
        self.transport.load({name: stem.samples for name, stem in session.stems.items()},
                            session.mixture.rate, self.mixer_model.state, growing=loaded.growing)
        self.transport_bar.setEnabled(True)
        self.transport_bar.show_loop(None, False)
        self.song_card.show_song(loaded, self.device_name or "the CPU")
        for action in self._song_actions:
            action.setEnabled(True)
        for index, action in enumerate(self.select_actions):
            action.setEnabled(index < len(session.stems))
        self._update_title()
        source = "from the stem cache" if session.from_cache else "separated"
        self.statusBar().showMessage(f"{session.path.name}: {len(session.stems)} stems {source}.", 8000)
        # Drawn on the next turn of the event loop: two short steps keep it answering.
        QTimer.singleShot(1, lambda: self._draw_song(loaded))

    def _draw_song(self, loaded: LoadedSong) -> None:
        if self.song is not loaded:
            return
        selected = self.mixer_model.selected
        self.views.show_picture(loaded.picture, selected, self._colour(selected))
        self.views.set_frontier(None)
        self._show_frontier()
        self.stack.setCurrentWidget(self.views)
        if loaded.growing is not None:
            # Not before every stem is there: an export would hold silence.
            self.export_action.setEnabled(False)
            self.song_card.export_button.setEnabled(False)
            self.song_growing_shown.emit(loaded)
        else:
            self.song_shown.emit(loaded)

    def _on_separation_failed(self, path: Path, message: str) -> None:
        self.show_message(message if path.name in message else f"{path.name}: {message}", "error")

    def _on_separation_cancelled(self, path: Path) -> None:
        self.show_message(f"Separation of {path.name} cancelled.", "info")

    def _on_device_ready(self, name: str) -> None:
        self.device_name = name
        self.device_label.setText(f"Separation: {name}")

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(path.name, lambda _checked=False, p=path: self.open_song(p))
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
        if paths:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self.recent.clear)
        self.recent_menu.setEnabled(bool(paths))

    # --- playback, mixer, loop -----------------------------------------------------------

    def _colour(self, stem: str) -> str:
        stems = self.mixer_model.stems
        return theme.stem_colour(stem, stems.index(stem)) if stem in stems else theme.ACCENT

    def _on_mixer_state(self, state: MixerState) -> None:
        self.transport.set_state(state)
        active = state.loop is not None
        self.loop_action.setChecked(active)
        self.transport_bar.show_loop(self._loop_span, active)
        self.views.set_loop_span(self._loop_span, active)

    def _on_selection(self, stem: str) -> None:
        if stem:
            self.views.set_mask(stem, self._colour(stem))

    def _on_position(self, samples: int) -> None:
        rate = self.transport.rate
        if not rate:
            return
        seconds = samples / rate
        self.views.set_playhead(seconds, follow=self.transport.is_playing)
        self.transport_bar.show_time(seconds, self.transport.length / rate)

    def _on_loop_selected(self, start: float, end: float) -> None:
        self._loop_span = (start, end)
        state = self.mixer_model.state
        if state is not None and state.loop is not None:
            self.mixer_model.set_loop(self._loop_samples())
        else:
            self.transport_bar.show_loop(self._loop_span, False)
            self.views.set_loop_span(self._loop_span, False)

    def _loop_samples(self) -> tuple[int, int]:
        rate = self.transport.rate
        start, end = self._loop_span
        return round(start * rate), max(round(end * rate), round(start * rate) + 1)

    def toggle_loop(self) -> None:
        """Turn the A-B loop on or off (L); it needs a span marked on the views first."""
        state = self.mixer_model.state
        if state is None:
            return
        if state.loop is not None:
            self.mixer_model.set_loop(None)
        elif self._loop_span is None:
            self.loop_action.setChecked(False)
            self.transport_bar.show_loop(None, False)
            self.show_message("Drag across the spectrogram to mark the A-B span, then press L.", "info")
        else:
            self.mixer_model.set_loop(self._loop_samples())
            if not self.transport.is_playing:
                self.transport.seek(self._loop_samples()[0])

    def _zoom_all(self) -> None:
        if self.song is not None:
            self.views.zoom_to(0.0, self.song.picture.duration)

    def _on_output_changed(self, ok: bool, message: str) -> None:
        if ok:
            self.output_label.setText(f"Output: {self.preferences.output_device or 'default'}")
            self.output_label.setStyleSheet("")
            return
        self.output_label.setText("No sound output")
        self.output_label.setStyleSheet(f"color: {theme.WARNING};")
        self.show_message(
            f"{message} Playback is off; separating, viewing and exporting still work. "
            "Choose another output in Preferences.",
            "warning",
            ("Preferences…", self.show_preferences),
        )

    # --- export --------------------------------------------------------------------------

    def show_export_dialog(self) -> ExportDialog | None:
        if self.song is None:
            return None
        dialog = ExportDialog(
            self.mixer_model.stems, self.preferences.export_format, Path(self.preferences.export_folder), self
        )
        dialog.export_requested.connect(self.export)
        self._keep_dialog(dialog)
        return dialog

    def export(self, request: ExportRequest) -> bool:
        """Start writing ``request`` on a worker thread; False if it cannot start now."""
        if self.song is None:
            self.show_message("Open a song before exporting.", "info")
            return False
        if not self.exports.run(request, self.song.session, self.mixer_model.state):
            self.show_message("An export is still running; try again when it is done.", "info")
            return False
        return True

    def _on_export_started(self, description: str) -> None:
        self.export_progress.setRange(0, 0)
        self.export_progress.show()
        self.statusBar().showMessage(f"Exporting {description}…")

    def _on_export_progress(self, done: int, total: int) -> None:
        self.export_progress.setRange(0, total)
        self.export_progress.setValue(done)

    def _on_export_done(self, request: ExportRequest, paths: list[Path]) -> None:
        self.export_progress.hide()
        folder = paths[0].parent if paths else request.folder
        names = ", ".join(path.name for path in paths)
        self.show_message(
            f"Exported {request.describe()}: {names} in {folder}.", "info",
            ("Show folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))),
        )
        self.export_finished.emit(paths)

    def _on_export_failed(self, message: str) -> None:
        self.export_progress.hide()
        self.show_message(f"Export failed: {message}", "error")
        self.export_failed.emit(message)

    # --- preferences and cache -----------------------------------------------------------

    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.preferences, self.cache.size_bytes(), self)
        dialog.applied.connect(self.apply_preferences)
        dialog.clear_cache_requested.connect(self.clear_cache)
        self.cache_cleared.connect(dialog.show_cache_size)
        self._keep_dialog(dialog)
        return dialog

    def apply_preferences(self, preferences: Preferences) -> None:
        """Use and store ``preferences``; a new output or buffer applies at once."""
        old, self.preferences = self.preferences, preferences
        preferences.save(self.settings)
        self.queue.set_device(preferences.compute_device)
        if preferences.compute_device != old.compute_device:
            self.device_label.setText(f"Separation: {preferences.compute_device} (next song)")
        self.cache.max_bytes = preferences.cache_max_bytes
        if (preferences.output_device, preferences.buffer_size) != (old.output_device, old.buffer_size):
            self.transport.set_output(preferences.output_device, preferences.buffer_size)

    def clear_cache(self) -> None:
        """Delete every cached separation (the songs open now stay open)."""
        size = self.cache.size_bytes()
        try:
            self.cache.clear()
        except StemdeskError as error:
            self.show_message(str(error), "error")
            return
        self.show_message(f"Stem cache cleared ({size / 2**20:.0f} MiB freed).", "info")
        self.cache_cleared.emit(self.cache.size_bytes())

    # --- messages, title, closing ----------------------------------------------------------

    def show_message(self, text: str, level: str = "info", action=None) -> None:
        """Show ``text`` in the banner and the status bar; never blocks."""
        self.banner.show_message(text, level, action)
        self.statusBar().showMessage(text, 10_000)
        if level == "error":
            log.warning("%s", text)

    def _update_title(self) -> None:
        parts = []
        if self.song is not None:
            parts.append(self.song.session.title)
        if self.queue.current is not None:
            waiting = len(self.queue.waiting)
            parts.append(f"separating {self.queue.current.name}" + (f" (+{waiting})" if waiting else ""))
        self.setWindowTitle(" — ".join(parts + [APP_NAME]))

    def _keep_dialog(self, dialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: self._dialogs.remove(dialog) if dialog in self._dialogs else None)
        self._dialogs.append(dialog)
        dialog.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.queue.cancel_all()
        self.queue.wait()
        self.exports.wait()
        self.transport.unload()
        super().closeEvent(event)
