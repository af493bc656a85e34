"""Write docs/screenshot.png: the main window with the demo song separated by a real model.

    python docs/make_screenshot.py [OUT.png] [--model ID]
    python docs/make_screenshot.py docs/screenshot-practice.png --practice

Runs headless (Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise),
with throwaway settings and stem cache, and plays to ALSA's null device so the
window looks as it does with a sound card. The musician's state shown: an
A-B loop around a phrase with the playhead inside it and, with the default
model, the vocals' mask and the accompaniment turned down; with the band
preset (``--model band``), the guitar's mask and the guitar muted, as for
playing it along. With ``--practice``, at 1280x720: the beat grid found by the
analysis, a loop of two bars, the tempo at 80 %, transposed down a tone, the
click on, and the stems' activity lanes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshot.png"
SIZE = (1400, 880)
PRACTICE_SIZE = (1280, 720)


def main(out: Path, model: str | None, practice: bool = False) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="stemdesk-screenshot-"))
    # Before PortAudio starts: ALSA reads $HOME/.asoundrc and finds its null device.
    (scratch / ".asoundrc").write_text("pcm.!default { type null }\n")
    os.environ["HOME"] = str(scratch)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from stemdesk import DEMO_SONG
    from stemdesk.gui.app import create_application
    from stemdesk.gui.main_window import MainWindow

    app = create_application()
    window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat),
                        cache_root=scratch / "cache", model_id=model, data_root=scratch / "data")
    window.resize(*(PRACTICE_SIZE if practice else SIZE))
    window.show()

    def wait(milliseconds: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(milliseconds, loop.quit)
        loop.exec()

    failures: list[str] = []
    window.queue.failed.connect(lambda path, message: failures.append(message))
    window.open_song(DEMO_SONG)
    while window.song is None and not failures:
        wait(100)
    if failures:
        print(f"cannot separate the demo song: {failures[0]}", file=sys.stderr)
        return 1

    stems = tuple(window.song.session.stems)
    if practice:
        while window.practice.grid is None or not window.views.activity:
            wait(100)
        window.mixer_model.set_gain(stems[-1], -4.5)
        window.tools.loop_bars(3, 4)
        window.practice.set_tempo(0.8)
        window.practice.set_transpose(-2.0)
        window.practice.set_click(True)
        window.practice.set_count_in(1)
        loop = window.practice.state.loop
        window.transport.seek_seconds(loop[0] + 0.4 * (loop[1] - loop[0]))
    elif "guitar" in stems:
        window.mixer_model.select("guitar")
        window.mixer_model.toggle_mute()
    else:
        window.mixer_model.set_gain(stems[-1], -4.5)
        window.mixer_model.select(stems[0])
    if not practice:
        window.views.mark_loop(3.05, 5.35, free=True)
        window.toggle_loop()
        window.transport.seek_seconds(4.2)
    window.banner.dismiss()
    window.statusBar().showMessage(f"audio_example.mp3: {len(stems)} stems separated on CPU.")
    wait(300)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"cannot write {out}", file=sys.stderr)
        return 1
    print(out)
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write a screenshot of the main window.")
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    parser.add_argument("--model", help="model or preset id (default: the default model)")
    parser.add_argument("--practice", action="store_true", help="the practice tools: grid, bar loop, tempo")
    args = parser.parse_args()
    sys.exit(main(args.out, args.model, args.practice))
