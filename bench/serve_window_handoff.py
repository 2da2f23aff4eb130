"""How soon the next request starts after a client drops, with the server run from the
window: requests from other apps run on the window's own model thread (WindowRunner), so
this is the path a person's editor takes when Settings > Local server is on.

Each try: client A streams a long reply (ignore_eos); client B's request waits in line;
A's connection is closed mid-reply; the time until B's response starts (its headers are
sent when its turn comes and the model accepted its prompt) is the hand-over. It covers
noticing the disconnect, the cancel reaching the model (checked every token), the model's
thread taking B's job, and B's headers reaching B. Real window (offscreen), real model.

    python bench/serve_window_handoff.py [--model PATH] [--tries 5] [--cpu-threads 1]

Prints one JSON object. Goal: the next request starts within 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WAIT = 120


def post(port: int, question: str, tokens: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    body = json.dumps({"messages": [{"role": "user", "content": question}], "max_tokens": tokens,
                       "temperature": 0.0, "ignore_eos": True, "stream": True})
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    return conn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--cpu-threads", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ponder-bench-"))
    os.environ["PONDER_HOME"] = str(tmp / "home")

    from PySide6.QtWidgets import QApplication

    from app.core.engine import LlamaEngine
    from app.core.store import Store
    from app.settings import Settings
    from app.ui.chat.chat_session import ChatSession
    from app.ui.main_window import MainWindow
    from tests import model_files

    model = args.model or model_files.smollm2_path()
    app = QApplication.instance() or QApplication([])
    store = Store(tmp / "chat.db")
    session = ChatSession.create(store, Settings(context_size=4096),
                                 lambda path, load: LlamaEngine(path, replace(load, n_threads=args.cpu_threads)))
    window = MainWindow(session)
    session.models.load_model(str(model))
    deadline = time.monotonic() + WAIT
    while not session.models.model_ready and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session.settings.update(serve_enabled=True, serve_port=port)
    controller = window.server
    runner = controller.server.worker
    handoffs = []
    for i in range(args.tries):
        a = post(port, f"Try {i}: count from one to a thousand.", 3000)
        response_a = a.getresponse()
        for _ in range(4):  # the reply is under way
            response_a.fp.readline()
        started = {}

        def second(i=i, started=started) -> None:
            b = post(port, f"Try {i}: say hello.", 8)
            b.getresponse()  # returns once the headers came: B's turn has begun
            started["at"] = time.perf_counter()
            b.close()

        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert runner.wait_until(lambda running, waiting: running and waiting == 1, WAIT)
        t0 = time.perf_counter()
        a.sock.shutdown(socket.SHUT_RDWR)  # client A goes away mid-reply
        a.close()
        thread.join(WAIT)
        handoffs.append((started["at"] - t0) * 1000)
        assert runner.wait_until(lambda running, waiting: not running and not waiting, WAIT)
    window.close()
    store.close()
    print(json.dumps({"model": model.name, "cpu_threads": args.cpu_threads, "tries": args.tries,
                      "next_request_starts_ms": [round(h, 1) for h in handoffs],
                      "median_ms": round(statistics.median(handoffs), 1), "max_ms": round(max(handoffs), 1),
                      "goal_ms": 100}))


if __name__ == "__main__":
    main()
