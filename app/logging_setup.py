"""Logging to a size-capped file in the app's log folder (never to a console that a
windowed build does not have)."""

from __future__ import annotations

import logging
import logging.handlers

from app import APP_ID, paths


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_app_handler", False) for h in root.handlers):
        return
    handler = logging.handlers.RotatingFileHandler(
        paths.log_dir() / f"{APP_ID}.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler._app_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
