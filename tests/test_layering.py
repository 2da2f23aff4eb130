"""app/core and app/render are shared by every client: they must never pull in Qt
(and render never pyplot, which would pick a GUI backend)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
QT = ("PySide6", "shiboken6")


def imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", ["core", "render"])
def test_sources_import_neither_qt_nor_pyplot(package):
    for path in (APP / package).glob("*.py"):
        names = imported_names(path)
        assert not any(n.split(".")[0] in QT for n in names), path
        assert not any(n.startswith("matplotlib.pyplot") for n in names), path


def test_core_cli_and_rendering_load_no_qt_or_pyplot():
    code = (
        "import sys, pkgutil, importlib, app.core, app.cli\n"
        "for m in pkgutil.iter_modules(app.core.__path__): importlib.import_module('app.core.' + m.name)\n"
        "from app.render import render_markdown\n"
        "assert len(render_markdown('$$x^2$$ and $y$').images) == 2\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'matplotlib.pyplot'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_window_starts_without_the_heavy_optional_libraries(tmp_path):
    # Downloads (huggingface_hub), ranking (bm25s), PDF and Word readers load on first
    # use; importing them at start-up cost ~0.5 s before the window showed.
    import os

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PONDER_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "app", "--measure-start"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=APP.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "PySide6.QtWidgets" in loaded  # the window really started
    assert not loaded & {"huggingface_hub", "bm25s", "docx", "pypdfium2", "app.cli"}
