"""app/core is the part every client shares: it must never pull in Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "app" / "core"


def test_core_sources_do_not_import_qt():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("PySide6", "shiboken6") for n in names), path


def test_importing_core_and_cli_loads_no_qt():
    code = (
        "import sys, pkgutil, importlib, app.core, app.cli\n"
        "for m in pkgutil.iter_modules(app.core.__path__): importlib.import_module('app.core.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
