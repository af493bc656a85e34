"""The installed PySide6 does not lose references to True and None.

PySide6 6.12.0 did, on every emit() and every call of a C++ void method, and
Python 3.11 aborted ("none_dealloc") within minutes of using the window;
pyproject.toml excludes that release.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A long session's worth of calls: far more than None's or True's few thousand references.
CALLS = 200_000
SCRIPT = f"""
import sys
import stemdesk.gui
from PySide6.QtCore import QObject, Signal

class Model(QObject):
    changed = Signal(int)

model = Model()
seen = []
model.changed.connect(seen.append)
for i in range({CALLS}):
    model.setObjectName("strip")  # a void method: returns None
    model.changed.emit(i)         # emit returns True
assert len(seen) == {CALLS}
print("ok")
"""


def test_a_long_session_of_qt_calls_does_not_abort_the_interpreter():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
