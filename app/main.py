"""Composition root: the CLI for headless commands, otherwise the desktop app."""

from __future__ import annotations

import logging
import sys

from app import APP_NAME, __version__
from app.logging_setup import setup_logging

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    setup_logging()
    from app.cli import COMMANDS

    if argv and argv[0] in COMMANDS:
        from app.cli import main as cli_main

        return cli_main(argv)
    return run_gui(argv)


def run_gui(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow

    log.info("%s %s starting", APP_NAME, __version__)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    return app.exec()
