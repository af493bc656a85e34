"""The mixer the musician sees: a MixerState plus which stem is selected.

Every change makes a new immutable :class:`~stemdesk.playback.MixerState`
and fires ``state_changed`` with it; the strips redraw from it and the
transport hands it to the player as one reference swap, so the audio thread
never waits on the GUI.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from stemdesk.playback import MixerState

#: The fader's range; its bottom means silence (-inf dB).
MIN_DB, MAX_DB = -60.0, 12.0


class MixerModel(QObject):
    """Faders, mute, solo, master and the selected stem of the open song.

    The states it fires never hold a loop: the A-B loop belongs to the
    practice set-up (:class:`~stemdesk.gui.practice_model.PracticeModel`).

    Signals:
        state_changed(MixerState): after any change of the mix.
        selection_changed(str): the selected stem ("" when there is no song).
        stems_changed(tuple): a new song brought a new set of stems.
    """

    state_changed = Signal(object)
    selection_changed = Signal(str)
    stems_changed = Signal(tuple)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._stems: tuple[str, ...] = ()
        self._state: MixerState | None = None
        self._selected = ""

    @property
    def stems(self) -> tuple[str, ...]:
        return self._stems

    @property
    def state(self) -> MixerState | None:
        """The current mix, or None before a song is open."""
        return self._state

    @property
    def selected(self) -> str:
        return self._selected

    def reset(self, stems: tuple[str, ...], keep: MixerState | None = None) -> None:
        """A mix for a new set of stems: all faders at 0 dB, the first stem selected.

        With ``keep`` (the mix of the same song split by another model), stems
        of the same name keep their fader, mute and solo, the master keeps its
        level, and the selection stays if that stem is still there.
        """
        selected = self._selected
        self._stems = tuple(stems)
        state = MixerState.for_stems(self._stems)
        if keep is not None:
            state = MixerState(
                {name: keep.controls.get(name, control) for name, control in state.controls.items()},
                master_db=keep.master_db,
            )
        self._state = state
        self._selected = ""
        self.stems_changed.emit(self._stems)
        self.state_changed.emit(self._state)
        if keep is not None and selected in self._stems:
            self.select(selected)
        else:
            self.select(self._stems[0] if self._stems else "")

    def select(self, name: str) -> None:
        if name and name not in self._stems:
            raise KeyError(f"no stem named {name!r}; stems are {list(self._stems)}")
        if name != self._selected:
            self._selected = name
            self.selection_changed.emit(name)

    def select_index(self, index: int) -> None:
        """Select the ``index``-th stem (0-based); out of range does nothing."""
        if 0 <= index < len(self._stems):
            self.select(self._stems[index])

    def set_gain(self, name: str, db: float) -> None:
        """Stem ``name``'s fader to ``db``; at or below MIN_DB it closes (-inf)."""
        self._update(self._need_state().with_gain(name, _fader_db(db)))

    def set_mute(self, name: str, mute: bool) -> None:
        self._update(self._need_state().with_mute(name, mute))

    def set_solo(self, name: str, solo: bool) -> None:
        self._update(self._need_state().with_solo(name, solo))

    def toggle_mute(self, name: str | None = None) -> None:
        """Flip the mute of ``name`` (default: the selected stem)."""
        name = name or self._selected
        if name:
            self.set_mute(name, not self._need_state().controls[name].mute)

    def toggle_solo(self, name: str | None = None) -> None:
        """Flip the solo of ``name`` (default: the selected stem)."""
        name = name or self._selected
        if name:
            self.set_solo(name, not self._need_state().controls[name].solo)

    def set_master(self, db: float) -> None:
        self._update(self._need_state().with_master(_fader_db(db)))

    def _need_state(self) -> MixerState:
        if self._state is None:
            raise RuntimeError("no song is open")
        return self._state

    def _update(self, state: MixerState) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)


def _fader_db(db: float) -> float:
    return float("-inf") if db <= MIN_DB else min(float(db), MAX_DB)
