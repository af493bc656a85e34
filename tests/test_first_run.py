"""The README's first command ends in `stemdesk --demo`: a real window on a real X server (Xvfb)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def window_titles(display_env: dict) -> list[str]:
    found = subprocess.run(["xdotool", "search", "--name", "stemdesk", "getwindowname", "%@"],
                           capture_output=True, text=True, env=display_env)
    return found.stdout.splitlines()


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                    reason="needs Debian's xvfb and xdotool (scripts/test.sh installs them)")
def test_stemdesk_demo_opens_a_window_showing_the_demo_song(tmp_path):
    # -displayfd: Xvfb picks a free display number and writes it to the pipe when it is ready.
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        display = f":{ready.readline().strip()}"
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path),
           "QT_QPA_PLATFORM": "xcb"}
    app = None
    try:
        app = subprocess.Popen([sys.executable, "-m", "stemdesk.cli", "--demo"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        titles: list[str] = []
        # The title names the song once it is separated and on screen.
        while "audio_example — stemdesk" not in titles and time.monotonic() < deadline:
            assert app.poll() is None, app.communicate()[0]
            time.sleep(0.5)
            titles = window_titles(env)
        assert "audio_example — stemdesk" in titles, titles
    finally:
        if app is not None:
            app.terminate()
            output = app.communicate(timeout=30)[0]
            assert "Traceback" not in output, output
        server.terminate()
        server.wait(timeout=10)
