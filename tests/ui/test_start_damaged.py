"""Starting the real app (a child process, offscreen) on a damaged history file or a
settings file it cannot fully use: it starts, says what happened, and keeps the person's
files. The dialogs are replaced by recorders that answer as a person would."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.store import Store
from tests.core.test_store_damage import THREADS, build_history, content, garble_pages, page_holding, truncate_last_pages

REPO = Path(__file__).resolve().parents[2]

# argv: the answer to the damaged-history question. Every dialog prints one JSON line.
CHILD = textwrap.dedent(
    """
    import json, sys
    from app.ui.dialogs import Dialogs

    answer = sys.argv[1]
    args = sys.argv[2:]

    def recorder(name, reply=None, close=False):
        def dialog(parent, *texts):
            print(json.dumps({"dialog": name, "texts": [str(t) for t in texts]}), flush=True)
            if close:  # the notice came up over the window: done, close it as a person would
                from PySide6.QtCore import QTimer
                QTimer.singleShot(0, parent.close)
            return reply
        return staticmethod(dialog)

    Dialogs.history_damaged = recorder("history_damaged", answer)
    Dialogs.inform = recorder("inform", close="--close-on-notice" in args)
    Dialogs.error = recorder("error")
    from app.main import main
    sys.exit(main([a for a in args if a != "--close-on-notice"]))
    """
)


def start(home: Path, answer: str, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    env = {**os.environ, "PONDER_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1",
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing may reach a model hub
    proc = subprocess.run([sys.executable, "-c", CHILD, answer, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)
    dialogs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"dialog"')]
    return proc, dialogs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def history(app_home) -> Path:
    db = app_home / "data" / "chat.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    build_history(db)
    return db


def backup_of(db: Path) -> Path:
    [backup] = db.parent.glob("chat.db.damaged-*")
    return backup


def test_damage_in_the_middle_offers_recovery_and_the_window_starts(app_home, history):
    garble_pages(history, page_holding(history, content(20, 0)), 2)
    damaged = digest(history)

    proc, dialogs = start(app_home, "recover", "--measure-start")

    assert proc.returncode == 0, proc.stderr[-3000:]  # it used to abort (134) with a traceback
    assert "Traceback" not in proc.stderr
    backup = backup_of(history)
    assert digest(backup) == damaged  # kept exactly as it was
    assert [d["dialog"] for d in dialogs] == ["history_damaged", "inform"]
    assert str(backup) in dialogs[0]["texts"][1] and "malformed" in dialogs[0]["texts"][0]
    assert "recovered" in dialogs[1]["texts"][0] and str(backup) in dialogs[1]["texts"][0]
    with Store(history) as store:  # the new file, whole, with what could be read
        threads = store.list_threads()
        assert THREADS - 2 <= len(threads) <= THREADS
        assert any(m.content == content(0, 0) for m in store.path(threads[-1].id))


def test_damaged_last_pages_and_an_empty_start(app_home, history):
    truncate_last_pages(history, 2)
    damaged = digest(history)

    proc, dialogs = start(app_home, "empty", "--measure-start")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [d["dialog"] for d in dialogs] == ["history_damaged"]  # it used to start silently on it
    assert digest(backup_of(history)) == damaged
    with Store(history) as store:
        assert store.list_threads() == []
    conn = sqlite3.connect(history)
    try:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_a_whole_history_asks_nothing(app_home, history):
    proc, dialogs = start(app_home, "recover", "--measure-start")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert dialogs == [] and not list(history.parent.glob("chat.db.damaged-*"))


@pytest.mark.parametrize("settings, named", [
    ("[]", ["instead of the settings"]),
    (json.dumps({"schema_version": 1, "settings": {"temperature": "hot", "n_gpu_layers": None,
                                                   "system_prompt": "Mine"}}), ["temperature", "n_gpu_layers"]),
])
def test_a_settings_file_it_cannot_fully_use_is_named_once_the_window_is_up(app_home, settings, named):
    config = app_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(settings, encoding="utf-8")

    proc, dialogs = start(app_home, "recover", "--close-on-notice")

    assert proc.returncode == 0, proc.stderr[-3000:]  # "[]" used to stop the app at start
    assert [d["dialog"] for d in dialogs] == ["inform"]  # once
    notice = dialogs[0]["texts"][0]
    assert all(word in notice for word in named) and str(config / "settings.json") in notice
    assert "system_prompt" not in notice
