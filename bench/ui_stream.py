"""GUI smoothness while a long reply streams, through the real signal path.

A scripted engine behind the real worker thread streams a 32,000-token thinking trace
and a 2,000-token Markdown answer (code, a table, math) at 200 tokens/s into the real
window. A 1 ms timer on the GUI thread measures event-loop stalls; the view's update
calls are timed to give render cost per token for the first and last 1,000 tokens of
the trace and of the answer. Prints JSON. Goals: p99 stall <= 16 ms, max <= 50 ms,
last/first render cost <= 1.5.

    QT_QPA_PLATFORM=offscreen python bench/ui_stream.py [--trace 32000] [--answer 2000] [--rate 200]

Heavy answers (--scenario formulas | table | code): a short trace, then one paragraph of
2,000 inline formulas, a 5,000-row table or a 5,000-line code block, at 2,000 tokens/s.
Stalls are reported per phase: while it streams, while the formula images arrive, and
while the thread is opened again (another thread, then this one: the reply is rendered
from the store). Goal: no stall over 50 ms in any phase.

    QT_QPA_PLATFORM=offscreen python bench/ui_stream.py --scenario table [--size 5000]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.scripted_engine import ScriptedEngine  # noqa: E402
from app.core.store import Store  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.ui.chat.chat_session import ChatSession  # noqa: E402
from app.ui.chat.answer_view import AnswerView  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

TOKEN_CHARS = 4  # one scripted piece stands for one token


def script(trace_tokens: int, answer_tokens: int) -> str:
    words = "consider the next case then check it again against the earlier result and note ".split()
    trace = []
    while sum(map(len, trace)) < trace_tokens * TOKEN_CHARS:
        trace.append(" ".join(words[i % len(words)] for i in range(len(trace), len(trace) + 12)) + ".\n")
    section = (
        "## Step\n\nWe compute $x^2 + y^2 = r^2$ and check each case.\n\n"
        "| a | b | a+b |\n|---|---|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 9 |\n\n"
        "```python\ndef f(n):\n    return sum(k * k for k in range(n))\n```\n\n"
        "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\n- first point\n- second point\n\n"
    )
    answer = ""
    while len(answer) < answer_tokens * TOKEN_CHARS:
        answer += section
    trace_text = "".join(trace)[: trace_tokens * TOKEN_CHARS]
    return f"<think>{trace_text}</think>{answer[: answer_tokens * TOKEN_CHARS]}"


def heavy_answer(scenario: str, size: int) -> str:
    """What a reply that stresses one kind of block looks like."""
    if scenario == "formulas":  # one paragraph, ten formulas a line, every formula new
        lines = []
        for first in range(1, size + 1, 10):
            terms = ", ".join(f"$x_{{{k}}}^{{2}}$" for k in range(first, min(first + 10, size + 1)))
            lines.append(f"Then {terms} all count.")
        return "The terms are as follows.\n\n" + "\n".join(lines) + "\n\nThat is all.\n"
    if scenario == "table":
        rows = "".join(f"| {n} | item {n} | {n * n} | note on row {n} |\n" for n in range(1, size + 1))
        return "The rows:\n\n| n | name | square | note |\n|---|---|--:|---|\n" + rows + "\nThat is all.\n"
    code = "".join(f"    total += step({n}, value * {n})  # line {n}\n" for n in range(1, size + 1))
    return "The code:\n\n```python\ndef run(value):\n    total = 0\n" + code + "```\n\nThat is all.\n"


def answer_view(window: MainWindow):
    views = [w.answer for w in window.chat.widgets.values() if w.answer is not None]
    return views[-1] if views else None


def timed(method, into: list, origin):
    def run(self) -> None:
        t0 = time.perf_counter()
        method(self)
        into.append(((time.perf_counter() - t0) * 1000, t0 - origin()))

    return run


def heavy_phase(name: str, act, settled, limit: float, start: float) -> tuple[str, float, float, bool]:
    """Run `act` from the event loop, then keep the loop running until `settled()`."""
    loop = QEventLoop()
    began = time.perf_counter()
    poll = QTimer()
    poll.setInterval(20)

    def check() -> None:
        if settled() or time.perf_counter() - began > limit:
            loop.quit()

    poll.timeout.connect(check)
    QTimer.singleShot(0, act)
    QTimer.singleShot(200, poll.start)
    loop.exec()
    poll.stop()
    end = time.perf_counter()
    return name, began - start, end - start, end - began > limit


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["mixed", "formulas", "table", "code"], default="mixed")
    ap.add_argument("--trace", type=int, default=None, help="thinking tokens (32,000; 200 for heavy answers)")
    ap.add_argument("--answer", type=int, default=2000, help="answer tokens (mixed)")
    ap.add_argument("--size", type=int, default=None, help="formulas, rows or lines (2,000 / 5,000 / 5,000)")
    ap.add_argument("--rate", type=float, default=None, help="tokens/s (200; 2,000 for heavy answers)")
    ap.add_argument("--phase-limit", type=float, default=300.0, help="seconds before a phase is cut short")
    args = ap.parse_args()
    heavy = args.scenario != "mixed"
    if args.trace is None:
        args.trace = 200 if heavy else 32000
    if args.rate is None:
        args.rate = 2000.0 if heavy else 200.0
    if args.size is None:
        args.size = 2000 if args.scenario == "formulas" else 5000
    app = QApplication(sys.argv)
    from app.render.math import warm_up

    warm_up()  # as the app does at start-up, on a helper thread
    text = script(args.trace, args.answer)
    if heavy:
        text = script(args.trace, 0) + heavy_answer(args.scenario, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "chat.db")
        engine_factory = lambda p, l: ScriptedEngine(text, chunk=TOKEN_CHARS, delay=1 / args.rate)  # noqa: E731
        session = ChatSession.create(store, Settings(), engine_factory)
        window = MainWindow(session)
        window.resize(1280, 800)
        window.show()
        loop = QEventLoop()
        session.models.model_changed.connect(lambda s, t: loop.quit())
        session.models.load_model("scripted.gguf")
        loop.exec()

        costs: list[tuple[str, int, float]] = []  # kind, chars, seconds per view update
        slowest: list[tuple[float, float]] = []  # (ms, seconds since the send) per view update
        view_apply = window.chat.apply_events

        def timed_apply(message_id: int, events: list) -> None:
            t0 = time.perf_counter()
            view_apply(message_id, events)
            elapsed = time.perf_counter() - t0
            slowest.append((elapsed * 1000, t0 - start))
            for kind in ("reasoning", "answer"):
                chars = sum(len(e.text) for e in events if e.kind == kind)
                if chars:
                    costs.append((kind, chars, elapsed))

        session.stream_updated.disconnect(window.chat.apply_events)
        session.stream_updated.connect(timed_apply)
        # The answer view's own turns: formula images put in, and steps of a long answer.
        view_work: dict[str, list[tuple[float, float]]] = {"math_refresh": [], "render_step": []}
        for name, method in (("math_refresh", "_refresh_math"), ("render_step", "_step")):
            setattr(AnswerView, method, timed(getattr(AnswerView, method), view_work[name], lambda: start))

        gaps: list[float] = []
        gap_at: list[float] = []  # seconds since the send, per gap
        last = [time.perf_counter()]
        gc_pauses: list[tuple[float, float]] = []  # (ms, seconds since the send) of collections
        gc_start = [0.0]

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                gc_start[0] = time.perf_counter()
            else:
                gc_pauses.append(((time.perf_counter() - gc_start[0]) * 1000, gc_start[0] - start))

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000)
            gap_at.append(now - start)
            last[0] = now

        probe = QTimer()
        probe.setInterval(1)
        probe.timeout.connect(tick)
        done = QEventLoop()
        session.busy_changed.connect(lambda busy: None if busy else done.quit())
        start = time.perf_counter()
        gc.callbacks.append(on_gc)
        probe.start()
        session.set_session_params({"max_tokens": 10**7})  # the whole script, whatever its length
        phases: list[tuple[str, float, float, bool]] = []  # name, start and end (s since the send), cut short
        cut = QTimer()
        cut.setSingleShot(True)
        cut.timeout.connect(session.stop)
        cut.start(int(args.phase_limit * 1000))
        session.send("A long question")
        done.exec()
        phases.append(("stream", 0.0, time.perf_counter() - start, not cut.isActive()))
        cut.stop()
        if heavy:
            phases.append(heavy_phase("images", lambda: None, lambda: not answer_view(window).math_pending,
                                      args.phase_limit, start))
            thread_id = session.thread_id

            def reopen() -> None:  # another thread, then this one again: two clicks
                session.new_thread()
                QTimer.singleShot(100, lambda: session.select_thread(thread_id))

            phases.append(heavy_phase("reopen", reopen, lambda: getattr(answer_view(window), "settled", False),
                                      args.phase_limit, start))
        probe.stop()
        gc.callbacks.remove(on_gc)
        wall = time.perf_counter() - start
        window.close()
        window.deleteLater()
        session.deleteLater()
        app.processEvents()
        store.close()

    def per_token(kind: str, first: bool) -> float:
        rows = [c for c in costs if c[0] == kind]
        picked, tokens = [], 0
        for row in rows if first else reversed(rows):
            picked.append(row)
            tokens += row[1] / TOKEN_CHARS
            if tokens >= 1000:
                break
        return sum(r[2] for r in picked) / max(tokens, 1) * 1e6  # microseconds per token

    answer_rows = [c for c in costs if c[0] == "answer"]

    stalls = [max(0.0, g - 1.0) for g in gaps]
    result = {
        "bench": "ui_stream",
        "trace_tokens": args.trace,
        "answer_tokens": args.answer,
        "rate_tok_s": args.rate,
        "wall_s": round(wall, 1),
        "stall_ms": {"p50": round(statistics.median(stalls), 2), "p99": round(percentile(stalls, 0.99), 2),
                     "max": round(max(stalls), 2), "samples": len(stalls)},
        "render_us_per_token": {
            kind: {"first_1000": round(per_token(kind, True), 1), "last_1000": round(per_token(kind, False), 1)}
            for kind in ("reasoning", "answer")
        },
        # Where the worst stalls fell, and what Python's full collections cost, to tell
        # the app's own work from the interpreter's.
        "worst_stalls": [{"ms": round(g - 1.0, 1), "at_s": round(t, 1)}
                         for g, t in sorted(zip(gaps, gap_at), reverse=True)[:5]],
        "worst_view_updates": [{"ms": round(ms, 1), "at_s": round(t, 1)} for ms, t in sorted(slowest, reverse=True)[:3]],
        "gc": {"count": len(gc_pauses), "max_ms": round(max((p for p, _ in gc_pauses), default=0.0), 1),
                    "worst_at_s": round(max(gc_pauses, default=(0.0, 0.0))[1], 1)},
        "view_updates": len(costs),
        "answer_updates": len(answer_rows),
    }
    for kind in ("reasoning", "answer"):
        r = result["render_us_per_token"][kind]
        r["last_over_first"] = round(r["last_1000"] / r["first_1000"], 2) if r["first_1000"] else None
    if heavy:
        result = {"bench": "ui_stream", "scenario": args.scenario, "size": args.size, **{
            k: v for k, v in result.items() if k != "bench"}}
        for name, runs in view_work.items():
            result[f"worst_{name}s"] = [{"ms": round(ms, 1), "at_s": round(t, 1)} for ms, t in sorted(runs, reverse=True)[:3]]
        result["phases"] = {}
        for name, begin, end, cut_short in phases:
            part = [(max(0.0, g - 1.0), t) for g, t in zip(gaps, gap_at) if begin < t <= end]
            values = [g for g, _ in part] or [0.0]
            result["phases"][name] = {
                "wall_s": round(end - begin, 2), "p99_ms": round(percentile(values, 0.99), 2),
                "max_ms": round(max(values), 2), "samples": len(part), "cut_short": cut_short,
                "worst": [{"ms": round(g, 1), "at_s": round(t, 1)} for g, t in sorted(part, reverse=True)[:3]],
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
