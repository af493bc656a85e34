"""The window's actions and menus as one table: text, key, menu and what each one calls.

Every action sits on the window itself, so its key works wherever the focus
is. ``handler`` names an attribute path on the window (``"transport.toggle"``)
called with ``args``; the window builds the actions and their menus from
:data:`ACTIONS` in one loop (:func:`install_actions`) and never one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

#: Seconds the arrow keys move the playhead (with Shift: the fine step).
SEEK_STEP, FINE_SEEK_STEP = 5.0, 1.0
#: How much [ and ] change the tempo, as a fraction of the recording's tempo.
TEMPO_STEP = 0.05

Shortcut = str | QKeySequence.StandardKey | Qt.Key | None


@dataclass(frozen=True)
class ActionSpec:
    """One action of the window.

    id: the key of the action in the window's ``actions`` dict.
    text: the menu text (``&`` marks the mnemonic).
    menu: the menu it appears in ("" for a key without a menu entry).
    handler: attribute path on the window of what it calls, with ``args``.
    shortcut: its key, or None.
    checkable: a switch (its check mark is set by the window from the state it shows).
    needs_song: disabled until a song is on screen.
    separator_before: a menu separator goes above it.
    tip: tooltip and status-bar text.
    """

    id: str
    text: str
    menu: str
    handler: str
    shortcut: Shortcut = None
    args: tuple = ()
    checkable: bool = False
    needs_song: bool = True
    separator_before: bool = False
    tip: str = ""


#: Menus in menu-bar order; the Model menu is filled from the installed models by the window.
MENUS = ("&File", "&Playback", "&Practice", "&Grid", "Mo&del", "&Mixer")

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open…", "&File", "open_dialog", QKeySequence.StandardKey.Open, needs_song=False),
    ActionSpec("demo", "Open the &demo song", "&File", "open_demo", needs_song=False),
    ActionSpec("export", "&Export…", "&File", "exports.show_dialog", "Ctrl+E", separator_before=True),
    ActionSpec("cancel", "&Cancel separation", "&File", "queue.cancel", "Esc", needs_song=False,
               separator_before=True),
    ActionSpec("clear_cache", "C&lear stem cache", "&File", "clear_cache", needs_song=False,
               tip="Delete every separated song kept on disk"),
    ActionSpec("preferences", "&Preferences…", "&File", "show_preferences", "Ctrl+,", needs_song=False),
    ActionSpec("quit", "&Quit", "&File", "close", QKeySequence.StandardKey.Quit, needs_song=False,
               separator_before=True),

    ActionSpec("play", "&Play / pause", "&Playback", "transport.toggle", Qt.Key.Key_Space),
    ActionSpec("to_start", "Back to the &start", "&Playback", "transport.seek", Qt.Key.Key_Home, args=(0,)),
    ActionSpec("back", f"Back {SEEK_STEP:g} s", "&Playback", "transport.seek_by", Qt.Key.Key_Left,
               args=(-SEEK_STEP,)),
    ActionSpec("forward", f"Forward {SEEK_STEP:g} s", "&Playback", "transport.seek_by", Qt.Key.Key_Right,
               args=(SEEK_STEP,)),
    ActionSpec("fine_back", f"Back {FINE_SEEK_STEP:g} s", "&Playback", "transport.seek_by", "Shift+Left",
               args=(-FINE_SEEK_STEP,)),
    ActionSpec("fine_forward", f"Forward {FINE_SEEK_STEP:g} s", "&Playback", "transport.seek_by", "Shift+Right",
               args=(FINE_SEEK_STEP,)),
    ActionSpec("zoom_all", "Show the &whole song", "&Playback", "zoom_all", "Ctrl+0", separator_before=True),

    ActionSpec("loop", "A-B &loop", "&Practice", "toggle_loop", Qt.Key.Key_L, checkable=True),
    ActionSpec("loop_bar", "Loop the current &bar", "&Practice", "tools.loop_current_bar", "Shift+L"),
    ActionSpec("loop_bars", "Loop &bars…", "&Practice", "tools.show_loop_bars_dialog", "Ctrl+L",
               tip="Loop a range of bars, e.g. 17-20"),
    ActionSpec("loop_earlier", "Move the loop a bar &earlier", "&Practice", "tools.move_loop_by_bars", "Alt+Left",
               args=(-1,)),
    ActionSpec("loop_later", "Move the loop a bar l&ater", "&Practice", "tools.move_loop_by_bars", "Alt+Right",
               args=(1,)),
    ActionSpec("snap", "&Snap loops to the grid", "&Practice", "practice.toggle_snap", Qt.Key.Key_B,
               checkable=True, tip="Loops marked by dragging snap to beats and bars (hold Alt to drag freely)"),
    ActionSpec("trainer", "Speed &trainer…", "&Practice", "tools.show_trainer_dialog",
               tip="Each pass of the loop a little faster, from a start tempo up to a target"),
    ActionSpec("slower", "Tempo −5 %", "&Practice", "practice.nudge_tempo", "[", args=(-TEMPO_STEP,),
               separator_before=True),
    ActionSpec("faster", "Tempo +5 %", "&Practice", "practice.nudge_tempo", "]", args=(TEMPO_STEP,)),
    ActionSpec("tempo_reset", "Original tempo", "&Practice", "practice.set_tempo", "\\", args=(1.0,)),
    ActionSpec("transpose_up", "Transpose up a semitone", "&Practice", "practice.nudge_transpose", "Shift+Up",
               args=(1.0,)),
    ActionSpec("transpose_down", "Transpose down a semitone", "&Practice", "practice.nudge_transpose",
               "Shift+Down", args=(-1.0,)),
    ActionSpec("click", "&Click", "&Practice", "practice.toggle_click", Qt.Key.Key_C, checkable=True,
               separator_before=True, tip="A metronome on the beat grid, accented on each bar's first beat"),
    ActionSpec("count_in", "Count-&in (0, 1 or 2 bars)", "&Practice", "practice.cycle_count_in", Qt.Key.Key_K),
    ActionSpec("marker", "Add a &marker here…", "&Practice", "tools.add_marker", "Ctrl+M", separator_before=True),

    ActionSpec("tap", "&Tap tempo", "&Grid", "tools.tap_tempo", Qt.Key.Key_T,
               tip="Tap a few beats along with the music: the grid takes that tempo"),
    ActionSpec("downbeat", "This is &beat 1", "&Grid", "tools.mark_downbeat", "Ctrl+1",
               tip="The beat nearest the playhead starts a bar"),
    ActionSpec("halve", "&Halve the tempo", "&Grid", "tools.scale_grid", "Ctrl+[", args=(0.5,)),
    ActionSpec("double", "&Double the tempo", "&Grid", "tools.scale_grid", "Ctrl+]", args=(2.0,)),
    ActionSpec("grid_earlier", "Shift the grid earlier", "&Grid", "tools.shift_grid", ",", args=(-0.01,),
               separator_before=True, tip="Move every beat 10 ms earlier (or Shift+drag the grid)"),
    ActionSpec("grid_later", "Shift the grid later", "&Grid", "tools.shift_grid", ".", args=(0.01,)),

    ActionSpec("mute", "&Mute selected stem", "&Mixer", "mixer_model.toggle_mute", Qt.Key.Key_M),
    ActionSpec("solo", "&Solo selected stem", "&Mixer", "mixer_model.toggle_solo", Qt.Key.Key_S),
    *(
        ActionSpec(f"select_{key}", f"Select stem {key}", "&Mixer", "mixer_model.select_index", str(key),
                   args=(key - 1,), separator_before=key == 1)
        for key in range(1, 10)
    ),
)


def _call(window: QObject, path: str, args: tuple):
    function = reduce(getattr, path.split("."), window)
    return lambda _checked=False: function(*args)


def install_actions(
    window, specs: tuple[ActionSpec, ...] = ACTIONS
) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Make every action of ``specs`` on ``window`` and put it in its menu.

    Returns the actions by id and the menus by title (:data:`MENUS`).
    """
    menus: dict[str, QMenu] = {}
    menu_bar: QMenuBar = window.menuBar()
    for title in MENUS:
        menus[title] = menu_bar.addMenu(title)
    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, window)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.tip:
            action.setToolTip(spec.tip)
            action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        action.setEnabled(not spec.needs_song)
        action.triggered.connect(_call(window, spec.handler, spec.args))
        window.addAction(action)
        if spec.menu:
            if spec.separator_before:
                menus[spec.menu].addSeparator()
            menus[spec.menu].addAction(action)
        actions[spec.id] = action
    return actions, menus


def song_actions(actions: dict[str, QAction], specs: tuple[ActionSpec, ...] = ACTIONS) -> list[QAction]:
    """The actions that need a song on screen."""
    return [actions[spec.id] for spec in specs if spec.needs_song]
