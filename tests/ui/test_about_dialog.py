"""Help > About: versions of every part and the licences of the model and the libraries."""

from __future__ import annotations

import platform
from email.message import Message
from importlib import metadata

import PySide6
from PySide6.QtCore import qVersion

from app import __version__, about
from app.ui.about_dialog import AboutDialog
from app.ui.main_window import MainWindow

LICENCES = {
    "PySide6 / Qt": "LGPL-3.0-only", "llama-cpp-python / llama.cpp": "MIT", "huggingface-hub": "Apache-2.0",
    "matplotlib": "PSF-based", "Pygments": "BSD-2-Clause", "markdown-it-py": "MIT", "platformdirs": "MIT",
    "gguf": "MIT", "Jinja2": "BSD-3-Clause",
}


def test_about_lists_versions_and_licences(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    text = dialog.details.toPlainText()
    for version in (__version__, metadata.version("llama_cpp_python"), qVersion(), PySide6.__version__,
                    platform.python_version()):
        assert version in text
    assert "CPU" in text  # llama.cpp's system info names the backends it was built with
    lines = text.splitlines()  # each table cell is a line: name, then its licence

    def licence_of(name: str) -> str:
        return lines[next(i for i, line in enumerate(lines) if line.startswith(name)) + 1]

    assert licence_of("Phi-4-reasoning (Microsoft)") == "MIT"
    for name, licence in LICENCES.items():
        assert licence in licence_of(name + " "), name


def test_licences_come_from_metadata_when_it_says_enough():
    def md(**fields) -> Message:
        m = Message()
        for key, value in fields.items():
            for v in value if isinstance(value, list) else [value]:
                m[key.replace("_", "-")] = v
        return m

    assert about.licence_from_metadata(md(License_Expression="BSD-2-Clause")) == "BSD-2-Clause"
    assert about.licence_from_metadata(md(License="Apache-2.0")) == "Apache-2.0"
    long_text = md(License="Copyright ...\n\nPermission is hereby granted", Classifier=["License :: OSI Approved :: MIT License"])
    assert about.licence_from_metadata(long_text) == "MIT"
    assert about.licence_from_metadata(md(Classifier=["Programming Language :: Python"])) is None
    assert about.library("jinja2").licence == "BSD-3-Clause"  # its metadata says only "BSD License"


def test_help_menu_opens_about(qtbot, monkeypatch):
    opened = []
    monkeypatch.setattr(AboutDialog, "exec", lambda self: opened.append(self.windowTitle()) or 0)
    window = MainWindow()
    qtbot.addWidget(window)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in help_menu.actions() if a.text() == "About Ponder").trigger()
    assert opened == ["About Ponder"]
