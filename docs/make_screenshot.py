"""Write docs/screenshot.png: the main window with the demo song separated by the real model.

    python docs/make_screenshot.py [OUT.png]

Runs headless (Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise),
with throwaway settings and stem cache, and plays to ALSA's null device so the
window looks as it does with a sound card. The musician's state shown: the
vocals' mask, the accompaniment turned down, an A-B loop around a phrase and
the playhead inside it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshot.png"
SIZE = (1400, 880)


def main(out: Path) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="stemdesk-screenshot-"))
    # Before PortAudio starts: ALSA reads $HOME/.asoundrc and finds its null device.
    (scratch / ".asoundrc").write_text("pcm.!default { type null }\n")
    os.environ["HOME"] = str(scratch)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from stemdesk.cli import DEMO_SONG
    from stemdesk.gui.app import create_application
    from stemdesk.gui.main_window import MainWindow

    app = create_application()
    window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat),
                        cache_root=scratch / "cache")
    window.resize(*SIZE)
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

    window.mixer_model.set_gain("accompaniment", -4.5)
    window.mixer_model.select("vocals")
    window.views.mark_loop(3.05, 5.35)
    window.toggle_loop()
    window.transport.seek_seconds(4.2)
    window.banner.dismiss()
    window.statusBar().showMessage("audio_example.mp3: 2 stems separated on CPU.")
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
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
