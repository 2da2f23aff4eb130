"""The whole app as a person runs it: real window, real model, real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.core.store import Store

CHILD = r"""
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession

app = QApplication([])
store = Store(Path(sys.argv[1]))
script = "<think>" + "thinking hard " * 2000 + "</think>done"
session = ChatSession.create(store, Settings(), lambda p, l: ScriptedEngine(script, chunk=8, delay=0.002))
session.models.model_changed.connect(lambda state, text: session.send("Think for a long time"))
saved = []

def report(*_):
    reply = store.path(session.thread_id)[-1]
    if store.get_message(reply.id).reasoning and not saved:
        saved.append(1)
        print("SAVED", flush=True)  # the parent kills us now, mid-stream

session.stream_updated.connect(report)
session.models.load_model("scripted.gguf")
app.exec()
"""


def test_self_test_with_the_real_model(smollm2, tmp_path):
    shot = tmp_path / "window.png"
    env = {**os.environ, "PONDER_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--self-test", "--model", str(smollm2), "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "self-test passed" in proc.stdout
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"


def test_self_test_reports_a_bad_model(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    env = {**os.environ, "PONDER_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "app", "--self-test", "--model", str(bad)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and "not a GGUF" in proc.stderr and "Traceback" not in proc.stderr


def test_killed_mid_stream_keeps_the_saved_partial_reply(tmp_path):
    db = tmp_path / "chat.db"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PONDER_HOME": str(tmp_path / "home")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout.readline().strip() == "SAVED"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
    with Store(db) as store:
        assert store.mark_interrupted() == 1
        thread = store.list_threads()[0]
        reply = store.path(thread.id)[-1]
        assert reply.state == "interrupted" and reply.reasoning.startswith("thinking hard")
        assert reply.content == ""
