"""Where the app keeps its files. One environment variable moves all of them.

PONDER_HOME=/some/dir puts data, config, cache and logs under that folder (tests and
portable installs use it); otherwise platformdirs picks each OS's usual places.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import PlatformDirs

from app import APP_ID

HOME_ENV = "PONDER_HOME"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_ID, appauthor=False)


def _dir(kind: str) -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        path = Path(home) / kind
    else:
        path = Path(getattr(_dirs(), f"user_{kind}_path"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    return _dir("data")


def config_dir() -> Path:
    return _dir("config")


def cache_dir() -> Path:
    return _dir("cache")


def log_dir() -> Path:
    return _dir("log")


def _resources() -> Path:
    # Installed: inside the package (see pyproject.toml); from a checkout: the repo's folder.
    packaged = Path(__file__).resolve().parent / "resources"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "resources"


RESOURCES = _resources()


def resource(*parts: str) -> Path:
    """A file shipped in resources/ (icons, styles)."""
    return RESOURCES.joinpath(*parts)


def history_path() -> Path:
    """The SQLite file with every thread: shared by the window and the CLI."""
    return data_dir() / "chat.db"
