"""app/render is pure Python: no Qt, and no pyplot (which would pick a GUI backend)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

RENDER = Path(__file__).resolve().parents[2] / "app" / "render"


def test_render_sources_import_neither_qt_nor_pyplot():
    for path in RENDER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("PySide6", "shiboken6") for n in names), path
            assert not any(n.startswith("matplotlib.pyplot") for n in names), path


def test_rendering_math_loads_no_qt_or_pyplot():
    code = (
        "import sys\n"
        "from app.render import render_markdown\n"
        "r = render_markdown('$$x^2$$ and $y$')\n"
        "assert len(r.images) == 2\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'matplotlib.pyplot'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
