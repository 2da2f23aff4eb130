"""Logging to a size-capped file in the app's log folder (never to a console that a
windowed build does not have)."""

from __future__ import annotations

import logging
import logging.handlers

from app import APP_ID, paths


class _AppLogHandler(logging.handlers.RotatingFileHandler):
    """The app's log file (its own class, so a second setup call can see it is there)."""


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(h, _AppLogHandler) for h in root.handlers):
        return
    handler = _AppLogHandler(paths.log_dir() / f"{APP_ID}.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
