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
    for path in (APP / package).rglob("*.py"):
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


def _app_modules():
    return [p for p in APP.rglob("*.py") if "resources" not in p.parts]


def test_the_conversation_core_imports_no_qt():
    names = imported_names(APP / "core" / "conversation.py")
    assert names and not any(n.split(".")[0] in QT for n in names)
    assert not any(n.startswith("app.ui") for n in names)


# The chat session is the window's one reader of the history; the document reader's
# worker thread opens its own connection by path (sqlite3's one-thread rule).
STORE_READERS = {APP / "ui" / "chat" / "chat_session.py", APP / "ui" / "documents" / "document_worker.py"}
STORE_MODULES = ("app.core.store", "app.core.store_documents", "app.core.documents.persist",
                 "app.core.documents.history")


def test_no_widget_module_imports_the_store():
    offenders = [p for p in (APP / "ui").rglob("*.py") if p not in STORE_READERS
                 and any(n.startswith(STORE_MODULES) for n in imported_names(p))]
    assert offenders == []


# python-docx gives no public way to a table's XML, which the Word reader walks itself
# (row.cells repeats spanned cells billions of times).
THIRD_PARTY_INTERNALS = {("word.py", "_tbl")}


def _private_reads(path: Path) -> list[str]:
    """`x._name` where x is not self/cls: another object's private member."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Name) and owner.id in ("sys", "os"):  # sys._MEIPASS, os._exit
                continue
            if (path.name, node.attr) in THIRD_PARTY_INTERNALS:
                continue
            found.append(f"{path.relative_to(APP.parent)}:{node.lineno}: .{node.attr}")
    return found


def test_no_module_reads_another_objects_private_members():
    offenders = [hit for p in _app_modules() for hit in _private_reads(p)]
    assert offenders == []


def test_every_imported_third_party_package_is_declared():
    import tomllib

    project = tomllib.loads((APP.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_dist_key(d) for d in project["dependencies"]}
    # Import names that differ from their distribution's name.
    provided_by = {"llama_cpp": "llama-cpp-python", "PySide6": "pyside6-essentials", "shiboken6": "pyside6-essentials",
                   "docx": "python-docx", "yaml": "pyyaml", "markdown_it": "markdown-it-py",
                   "mdit_py_plugins": "mdit-py-plugins", "huggingface_hub": "huggingface-hub",
                   "charset_normalizer": "charset-normalizer"}
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for path in _app_modules():
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in stdlib or top == "app" or not top:
                continue
            if _dist_key(provided_by.get(top, top)) not in declared:
                missing.add(f"{top} ({path.relative_to(APP.parent)})")
    assert sorted(missing) == []


def _dist_key(requirement: str) -> str:
    import re

    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")
