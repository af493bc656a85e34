"""The main window: wires the models (queue, mixer, transport) to their views.

Layout, top to bottom: a message banner (only when there is something to
say), the separation strip (only while separating), the song's views (or a
drop hint), the transport bar, and the mixer strips beside the song's card
with the Export button. Every error a user can cause ends up in the banner
and the status bar, never in a modal dialog, and the window keeps working.
The Model menu (:mod:`~stemdesk.gui.model_menu`) and exporting
(:mod:`~stemdesk.gui.export_controller`) are objects of their own that the
window creates and connects; the window owns the song on screen and the preferences.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from stemdesk import DEMO_SONG
from stemdesk.analysis import BeatGrid, save_grid
from stemdesk.audio import SUPPORTED_SUFFIXES
from stemdesk.catalogue import Catalogue
from stemdesk.errors import StemdeskError
from stemdesk.gui import theme
from stemdesk.gui.actions import install_actions, song_actions
from stemdesk.gui.export_controller import ExportController
from stemdesk.gui.grid_analysis import GridAnalysis, SongAnalysis
from stemdesk.gui.info_cards import DropHint, ShortcutCard, SongCard
from stemdesk.gui.message_banner import MessageBanner
from stemdesk.gui.mixer_model import MixerModel
from stemdesk.gui.mixer_panel import MixerPanel
from stemdesk.gui.model_install import ModelInstallDialog
from stemdesk.gui.model_menu import ModelMenu
from stemdesk.gui.practice_model import PracticeModel
from stemdesk.gui.practice_tools import PracticeTools
from stemdesk.gui.preferences import Preferences, RecentFiles
from stemdesk.gui.preferences_dialog import PreferencesDialog
from stemdesk.gui.separation_panel import SeparationPanel
from stemdesk.gui.separation_queue import LoadedSong, SeparationQueue
from stemdesk.gui.song_views import SongViews
from stemdesk.gui.transport import Transport
from stemdesk.gui.transport_bar import TransportBar
from stemdesk.practice import PracticeSetup, bar_at
from stemdesk.practice_store import PracticeStore, SavedPractice
from stemdesk.stem_cache import StemCache

log = logging.getLogger(__name__)

APP_NAME = "stemdesk"
#: A practice set-up is saved this long after its last change (and when the song changes).
_SAVE_DELAY_MS = 1000


class MainWindow(QMainWindow):
    """The stemdesk window.

    Args:
        settings: where preferences and recent files live (tests pass an ini file).
        cache_root: the stem cache folder; default the user's cache folder.
        repo: where separation models and presets are found.
        model_id: the model or preset to separate with; default the one chosen
            last in the Model menu (kept in the preferences).
        data_root: where each song's practice set-up (``practice/``) and corrected
            beat grid (``grids/``) are kept; default the user's data folder.

    Signals:
        song_shown(LoadedSong): a song is on screen, ready to play and export.
        song_growing_shown(LoadedSong): a song still being separated is on
            screen and playable (its first chunk is done); song_shown follows.
        cache_cleared(bytes_left): the stem cache was cleared.
    """

    song_shown = Signal(object)
    song_growing_shown = Signal(object)
    cache_cleared = Signal(int)

    def __init__(
        self,
        settings: QSettings,
        cache_root: Path | None = None,
        repo: Catalogue | None = None,
        model_id: str | None = None,
        data_root: Path | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.settings = settings
        self.preferences = Preferences.load(settings)
        self.cache = StemCache(cache_root, max_bytes=self.preferences.cache_max_bytes)
        self.repo = repo if repo is not None else Catalogue()
        if model_id is not None:
            self.preferences = replace(self.preferences, separation_model=model_id)
        # No choice made yet: Demucs v4 when it is installed, else Spleeter.
        chosen = self.preferences.separation_model or self.repo.default_model()
        self.queue = SeparationQueue(self.repo, chosen, self.cache, self.preferences.compute_device, self)
        self.mixer_model = MixerModel(self)
        self.practice = PracticeModel(self)
        self.practice_store = PracticeStore(data_root / "practice" if data_root is not None else None)
        self.grid_root = data_root / "grids" if data_root is not None else None
        self.grid_analysis = GridAnalysis(self.grid_root, self)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(_SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_practice)
        self.transport = Transport(self)
        self.transport.set_output(self.preferences.output_device, self.preferences.buffer_size)
        self.recent = RecentFiles(settings, self)
        self.song: LoadedSong | None = None
        self.device_name = ""
        self._dialogs: list = []

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self._build_widgets()
        self.tools = PracticeTools(self.practice, self.transport, self)
        self._build_status_bar()
        self._build_actions()
        self._connect()
        self.model_menu.check(self.queue.model_id)

    # --- construction --------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.banner = MessageBanner()
        self.separation_panel = SeparationPanel(self.queue)
        self.views = SongViews()
        self.drop_hint = DropHint(demo_available=DEMO_SONG.is_file())
        self.drop_hint.demo_requested.connect(self.open_demo)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_hint)
        self.stack.addWidget(self.views)
        self.transport_bar = TransportBar()
        self.transport_bar.setEnabled(False)
        self.mixer_panel = MixerPanel(self.mixer_model, self.practice)
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
        # The views get the most room, and the mixer grows with the window too: taller faders are finer.
        layout.addWidget(self.stack, 3)
        layout.addWidget(self.transport_bar)
        layout.addLayout(bottom, 2)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        # Its progress bar goes first in the status bar.
        self.exports = ExportController(status, self.mixer_model, lambda: self.song, lambda: self.preferences, self)
        self.device_label = QLabel(f"Separation: {self.preferences.compute_device}")
        self.device_label.setToolTip("Where the separation network runs")
        self.output_label = QLabel("Output: —")
        self.output_label.setToolTip("Sound output used for playback (Preferences)")
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.output_label)

    def _build_actions(self) -> None:
        self.actions, self.menus = install_actions(self)
        self.actions["demo"].setEnabled(DEMO_SONG.is_file())
        self.recent_menu = QMenu("Open &Recent", self)
        self.menus["&File"].insertMenu(self.actions["demo"], self.recent_menu)
        self.model_menu = ModelMenu(self.menus["Mo&del"], self.repo, self.queue, lambda: self.song, self)
        self._rebuild_recent_menu()

    def _connect(self) -> None:
        self.queue.song_ready.connect(self._on_song_ready)
        self.queue.song_growing.connect(self._on_song_growing)
        self.queue.progressed.connect(self._show_frontier)
        self.queue.failed.connect(self._on_separation_failed)
        self.queue.cancelled.connect(self._on_separation_cancelled)
        self.queue.device_ready.connect(self._on_device_ready)
        self.queue.started.connect(lambda path: self.actions["cancel"].setEnabled(True))
        self.queue.idle.connect(lambda: self.actions["cancel"].setEnabled(False))
        self.queue.queue_changed.connect(self._update_title)

        self.mixer_model.state_changed.connect(self.transport.set_state)
        self.mixer_model.state_changed.connect(self._schedule_save)
        self.mixer_model.selection_changed.connect(self._on_selection)
        self.practice.state_changed.connect(self._on_practice_state)
        self.practice.grid_changed.connect(self._on_grid)
        self.grid_analysis.ready.connect(self._on_analysis)
        self.practice.grid_edited.connect(self._on_grid_corrected)
        self.grid_analysis.failed.connect(lambda message: self.show_message(message, "warning"))

        self.transport.position_changed.connect(self._on_position)
        self.transport.playing_changed.connect(self.transport_bar.show_playing)
        self.transport.output_changed.connect(self._on_output_changed)

        self.views.seek_requested.connect(self.transport.seek_seconds)
        self.views.loop_selected.connect(lambda start, end: self.practice.set_loop((start, end)))
        self.views.grid_shift_requested.connect(self.tools.shift_grid)
        self.views.span_loop_requested.connect(self.tools.loop_span)
        self.transport_bar.play_clicked.connect(self.transport.toggle)
        self.transport_bar.to_start_clicked.connect(lambda: self.transport.seek(0))
        self.transport_bar.loop_clicked.connect(lambda on: self.toggle_loop())
        self.transport_bar.snap_clicked.connect(lambda on: self.practice.toggle_snap())
        self.transport_bar.tempo_changed.connect(self.practice.set_tempo)
        self.transport_bar.transpose_changed.connect(self.practice.set_transpose)
        self.transport_bar.trainer_clicked.connect(self.tools.show_trainer_dialog)
        self.tools.message.connect(self.show_message)
        self.song_card.export_button.clicked.connect(self.exports.show_dialog)
        self.exports.message.connect(self.show_message)
        self.exports.remembered.connect(lambda changes: self.remember(**changes))
        self.exports.dialog_opened.connect(self._keep_dialog)
        self.model_menu.message.connect(self.show_message)
        self.model_menu.status.connect(self.statusBar().showMessage)
        self.model_menu.chosen.connect(lambda model_id: self.remember(separation_model=model_id))
        self.model_menu.open_requested.connect(self.open_song)
        self.model_menu.dialog_opened.connect(self._keep_dialog)
        self.recent.changed.connect(self._rebuild_recent_menu)

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

    def open_demo(self) -> None:
        self.open_song(DEMO_SONG)

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
        session = loaded.session
        if self._growing_into(loaded):
            self._finish_growing(loaded)
            return
        if self.song is not None and session.path == self.song.session.path:
            # The shown song split by another model: swap the stems in, playing or not,
            # unless the musician has gone back to the model on screen meanwhile.
            if session.card.id == self.queue.model_id:
                self.show_song(loaded, same_song=True)
            return
        if self.transport.is_playing and self.song is not None:
            # Never pull the song from under a musician who is playing along; the
            # notice stays until answered (see MessageBanner).
            open_now = ("Open it now", lambda: self._switch_to(session.path))
            warned = f" ({loaded.warnings[0]})" if loaded.warnings else ""
            self.show_message(f"{session.path.name} is separated and ready{warned}.", "warning" if warned else "info",
                              open_now)
            return
        self.show_song(loaded)
        if loaded.warnings:
            self.show_message(loaded.warnings[0], "warning")

    def _on_song_growing(self, loaded: LoadedSong) -> None:
        """The first chunk is separated: play the song while the rest fills in."""
        session = loaded.session
        if self.song is not None and session.path == self.song.session.path:
            # Another model for the song on screen: on it goes, separated as far as it is.
            if session.card.id == self.queue.model_id:
                self.show_song(loaded, same_song=True)
            return
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
        self.actions["export"].setEnabled(True)
        if not drawn:
            QTimer.singleShot(1, lambda: self._draw_song(loaded, None))
            return
        self.views.set_frontier(None)
        self.views.update_masks(loaded.picture)
        self.song_shown.emit(loaded)
        self.grid_analysis.analyse(loaded)

    def _show_frontier(self) -> None:
        growing = self.song.growing if self.song is not None else None
        if growing is not None:
            self.views.set_frontier(growing.frontier / growing.mixture.rate)

    def _switch_to(self, path: Path) -> None:
        # Asked for explicitly: stop playing, so that the song is shown when it is ready.
        self.transport.pause()
        self.open_song(path)

    def show_song(self, loaded: LoadedSong, same_song: bool = False) -> None:
        """Put a separated song on the transport and the mixer, then on screen (``song_shown``).

        ``same_song``: the song on screen split by another model; the playhead,
        playing, zoom, practice set-up and the mix of stems of the same name stay.
        Otherwise the song starts stopped at 0 with its own saved set-up (or a fresh one).
        """
        session = loaded.session
        stems = {name: stem.samples for name, stem in session.stems.items()}
        if same_song:
            position, playing, zoom = self.transport.position, self.transport.is_playing, self.views.visible_span()
            self.transport.unload()
            self.mixer_model.reset(session.card.stems, keep=self.mixer_model.state)
        else:
            self.save_practice()
            self.transport.unload()
            position, playing, zoom = 0, False, None
            saved = self.practice_store.load(loaded.identity)
            self.mixer_model.reset(session.card.stems, keep=saved.mixer_for(session.card.stems) if saved else None)
            self.practice.reset(saved.practice if saved else None)
            self.practice.set_grid(None)
        self.song = loaded
        # The lanes take their room now and fill in when the analysis is done: nothing moves under the mouse.
        self.views.set_activity({name: [] for name in session.card.stems}, theme.stem_colours(session.card.stems))
        self.transport.load(stems, session.mixture.rate, self.mixer_model.state, position, playing,
                            growing=loaded.growing)
        self.transport_bar.setEnabled(True)
        self.song_card.show_song(loaded, self.device_name or "the CPU")
        for action in song_actions(self.actions):
            action.setEnabled(True)
        for index in range(9):
            self.actions[f"select_{index + 1}"].setEnabled(index < len(session.stems))
        self.model_menu.tick()
        self._update_title()
        source = "from the stem cache" if session.from_cache else "separated"
        self.statusBar().showMessage(f"{session.path.name}: {len(session.stems)} stems {source}.", 8000)
        # Drawn on the next turn of the event loop: two short steps keep it answering.
        QTimer.singleShot(1, lambda: self._draw_song(loaded, zoom))

    def _draw_song(self, loaded: LoadedSong, zoom: tuple[float, float] | None) -> None:
        if self.song is not loaded:
            return
        selected = self.mixer_model.selected
        self.views.show_picture(loaded.picture, selected, self._colour(selected))
        self._on_practice_state(self.practice.state)
        self._on_grid(self.practice.grid)
        self._on_position(self.transport.position)
        if zoom is not None:
            self.views.zoom_to(*zoom)
        self.views.set_frontier(None)
        self._show_frontier()
        self.stack.setCurrentWidget(self.views)
        if loaded.growing is not None:
            # Not before every stem is there: an export would hold silence.
            self.actions["export"].setEnabled(False)
            self.song_card.export_button.setEnabled(False)
            self.song_growing_shown.emit(loaded)
        else:
            self.song_shown.emit(loaded)
            # After the song is on screen: the analysis competes with drawing for the interpreter.
            self.grid_analysis.analyse(loaded)

    def _on_separation_failed(self, path: Path, message: str) -> None:
        self.show_message(message if path.name in message else f"{path.name}: {message}", "error")
        self.model_menu.tick()

    def _on_separation_cancelled(self, path: Path) -> None:
        if self.song is None or path != self.song.session.path:
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

    # --- playback, mixer, practice --------------------------------------------------------

    def _colour(self, stem: str) -> str:
        stems = self.mixer_model.stems
        return theme.stem_colours(stems)[stem] if stem in stems else theme.ACCENT

    def _on_practice_state(self, state: PracticeSetup) -> None:
        try:
            self.transport.set_practice(state)
        except StemdeskError as error:
            self.show_message(f"{error} The song plays at its own tempo and key.", "warning")
        self.actions["loop"].setChecked(state.looping)
        self.actions["snap"].setChecked(state.snap)
        self.actions["click"].setChecked(state.click)
        self.transport_bar.show_practice(state, self._loop_bars(state))
        grid = self.practice.grid
        self.transport_bar.show_bpm(grid.bpm if grid is not None else 0.0, state.tempo)
        self.views.snap = state.snap
        self.views.set_loop_span(state.loop, state.looping)
        self.views.set_markers(state.markers)
        self._schedule_save()

    def _loop_bars(self, state: PracticeSetup) -> str:
        """``bars 17-20`` when the loop lies on the grid's bar lines, else ""."""
        grid = self.practice.grid
        if grid is None or state.loop is None or not len(grid.downbeats):
            return ""
        start, end = state.loop
        first, last = bar_at(grid, start), bar_at(grid, end - 1e-3)
        if first < 1:
            return ""
        return f"bar {first}" if first == last else f"bars {first}-{last}"

    def _on_grid(self, grid: BeatGrid | None) -> None:
        self.views.set_grid(grid)
        self.transport.set_grid(grid)
        self._on_practice_state(self.practice.state)

    def _on_analysis(self, identity: str, analysis: SongAnalysis) -> None:
        if self.song is None or identity != self.song.identity:
            return
        self.views.set_activity(analysis.activity, theme.stem_colours(self.mixer_model.stems))
        # A correction made while the analysis ran wins over the analysed grid.
        if not self.practice.grid_corrected:
            self.practice.set_grid(analysis.grid, corrected=analysis.corrected)

    def _on_grid_corrected(self, grid: BeatGrid) -> None:
        """Keep the musician's correction with the song (the analysis will not override it)."""
        if self.song is None:
            return
        try:
            save_grid(self.song.identity, grid, self.grid_root)
        except StemdeskError as error:
            self.show_message(f"The corrected grid could not be saved: {error}", "warning")

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

    def toggle_loop(self) -> None:
        """Turn the A-B loop on or off (L); it needs a span marked on the views first."""
        if self.song is None:
            return
        state = self.practice.state
        if not self.practice.set_looping(not state.looping):
            self.actions["loop"].setChecked(False)
            self.show_message("Drag across the spectrogram to mark the A-B span, then press L.", "info")
        elif self.practice.state.looping and not self.transport.is_playing:
            self.transport.seek_seconds(state.loop[0])

    def zoom_all(self) -> None:
        if self.song is not None:
            self.views.zoom_to(0.0, self.song.picture.duration)

    def _schedule_save(self, *_args) -> None:
        if self.song is not None:
            self._save_timer.start()

    def save_practice(self) -> None:
        """Keep the open song's practice set-up and mix (done by itself a moment after each change)."""
        self._save_timer.stop()
        if self.song is not None:
            saved = SavedPractice.of(self.practice.state, self.mixer_model.state)
            self.practice_store.save(self.song.identity, saved)

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

    # --- preferences and cache -----------------------------------------------------------

    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.preferences, self.cache.size_bytes(), self)
        dialog.applied.connect(self.apply_preferences)
        dialog.clear_cache_requested.connect(self.clear_cache)
        self.cache_cleared.connect(dialog.show_cache_size)
        self._keep_dialog(dialog)
        return dialog

    def remember(self, **changes) -> None:
        """Keep ``changes`` (fields of :class:`Preferences`) in the preferences and store them."""
        self.preferences = replace(self.preferences, **changes)
        self.preferences.save(self.settings)

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
        self.save_practice()
        for dialog in self._dialogs:
            if isinstance(dialog, ModelInstallDialog):
                dialog.stop()
        self.queue.cancel_all()
        self.queue.wait()
        self.grid_analysis.wait()
        self.exports.wait()
        self.transport.unload()
        super().closeEvent(event)
