"""A command timed in a fresh process: wall time, CPU time and peak RSS, with one tree's stemdesk.

Standard library only: a child's peak RSS (``ru_maxrss``) starts from its parent's
size when it was forked, so a benchmark that imports this stays small.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def timed_run(
    command: list[str], cwd: Path | None, tree: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Run ``command`` with ``tree``'s stemdesk (and ``env`` added): (wall s, CPU s user + sys, peak RSS MB)."""
    environment = {**os.environ, "PYTHONPATH": str(tree), **(env or {})}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=environment, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def load() -> str:
    """The machine's load, as ``uptime`` prints it."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
