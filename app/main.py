"""Composition root: the CLI for headless commands, otherwise the desktop app."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from app import APP_ID, APP_NAME, CLI_COMMANDS, __version__, paths
from app.logging_setup import setup_logging

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from app.std_streams import ensure_std_streams

    ensure_std_streams(paths.log_dir())  # a windowed build has no stdout/stderr
    setup_logging()
    if argv and argv[0] in CLI_COMMANDS:
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.window_args import parse

    args, qt_args = parse(argv)  # an unknown command or option exits 2 here, before any window
    return run_gui(args, qt_args)


def _excepthook(exc_type, exc, tb) -> None:
    """Anything unexpected is logged and shown; the app keeps running."""
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
    try:
        from app.ui.dialogs import Dialogs

        Dialogs.error(None, f"Something went wrong: {exc}. Details are in the log folder: {paths.log_dir()}")
    except Exception:
        pass


def run_gui(args: argparse.Namespace, qt_args: list[str]) -> int:
    from app.platform_check import check_xcb

    problem = check_xcb()  # before Qt loads its platform plugin: a missing library aborts the process
    if problem:
        log.error("%s", problem)
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from app.core.errors import AppError
    from app.core.store import Store
    from app.settings import read_settings, save_settings
    from app.ui.chat.chat_session import ChatSession
    from app.ui.main_window import MainWindow
    from app.ui.settings.theme import apply_theme

    import threading

    from app.render.math import warm_up

    log.info("%s %s starting", APP_NAME, __version__)
    threading.Thread(target=warm_up, name="math-warm-up", daemon=True).start()
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(APP_ID)  # matches ponder.desktop: Wayland and docks group the window under it
    from PySide6.QtGui import QIcon

    app.setWindowIcon(QIcon(str(paths.resource("icons", "ponder.svg"))))
    loaded = read_settings(paths.config_dir())
    if not loaded.ok:
        log.warning("settings file %s: %s", loaded.path, loaded.unreadable or "; ".join(loaded.problems))
    settings = loaded.settings
    dark = apply_theme(app, settings.theme)
    try:
        db = paths.data_dir() / "chat.db"
        _check_history(db)
        store = Store(db, check=False)  # just checked, with the person's answer
        from app.core.housekeeping import tidy_in_background

        tidy_in_background(db)  # deleted threads and unused document text from earlier sessions
    except AppError as exc:
        from app.ui.dialogs import Dialogs

        Dialogs.error(None, exc.user_message)
        return 1
    from app.ui.models.model_session import ModelSession
    from app.ui.settings.app_settings import AppSettings

    app_settings = AppSettings(settings)
    app_settings.changed.connect(lambda new, _old: save_settings(paths.config_dir(), new))
    from app.context_states import open_store

    states = open_store(settings.saved_states_gb)  # each thread's read prompt, kept for when it is reopened
    session = ChatSession(store, app_settings, ModelSession(app_settings, states=states))
    window = MainWindow(session, dark=dark)
    window.show()
    model = args.model or settings.model_path
    if args.self_test:
        from app.ui.models.self_test import SelfTest

        return SelfTest(app, window, session, args.model, args.screenshot).run()
    if args.measure_start:
        return _report_start(app, window, store)
    sys.excepthook = _excepthook
    notice = loaded.notice()
    if notice:  # once the window is up, so the person sees what it is about
        from PySide6.QtCore import QTimer

        from app.ui.dialogs import Dialogs

        QTimer.singleShot(0, window, lambda: Dialogs.inform(window, notice))
    if model:
        window.choose_model(model)  # a download not yet checked is verified first
    else:
        window.show_first_run()  # offer the default download, or a .gguf already on disk
    code = app.exec()
    store.close()
    _exit_past_busy_workers(code)
    return code


def _exit_past_busy_workers(code: int) -> None:
    """A worker still busy when the window closed (a load that would not stop, a stalled
    disk) must not keep the process alive or abort it as Python tears its thread down:
    everything is saved by now, so end the process here."""
    from app.ui.thread_exit import busy_threads

    if busy_threads():
        log.warning("exiting with %d worker threads still busy", len(busy_threads()))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _check_history(db) -> None:
    """Before anything reads the history file: a damaged one is set aside unchanged, and the
    person chooses between recovering what can be read and an empty history. StoreError
    (to show, then stop) only when the damaged file cannot be moved aside."""
    from app.core.store import StoreError
    from app.core.store_check import check_history
    from app.core.store_repair import backup_path, recover_history, set_aside
    from app.ui.dialogs import Dialogs

    check = check_history(db)  # about 0.04 s for a 50 MB file
    if check.ok:
        return
    log.warning("history file %s is damaged: %s", db, check.problem)
    backup = backup_path(db)
    choice = Dialogs.history_damaged(None, check.problem, str(backup))
    set_aside(db, backup)
    if choice != "recover":
        return
    try:
        recovery = recover_history(backup, db)
    except StoreError as exc:  # nothing was left at db: the app starts with an empty history
        Dialogs.error(None, exc.user_message)
        return
    Dialogs.inform(None, recovery.summary(backup))


def _report_start(app, window, store) -> int:
    """Print when the window was first painted and the memory in use, then quit."""
    import json
    import time

    from PySide6.QtCore import QTimer

    def report() -> None:
        rss_kb = 0
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                rss_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
        print(json.dumps({"shown_at": time.time(), "rss_mb": round(rss_kb / 1024, 1)}), flush=True)
        window.close()
        app.quit()

    QTimer.singleShot(0, report)  # runs once the window has been shown and painted
    code = app.exec()
    store.close()
    return code
