"""How long a cancel from another thread takes to stop the engine.

Generation: a second thread sets the cancel event at a random moment while tokens
stream; measured from set() to the stats event. Prompt processing: the event is set
while a long prompt is being read (one big batch, so only llama.cpp's abort callback
can stop it mid-batch). Prints JSON; goal: <= 100 ms.

    python bench/cancel_latency.py [--model PATH] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402


def one_cancel(engine: LlamaEngine, messages, params, delay_s: float, wait_for: str | None) -> float:
    cancel, started = threading.Event(), threading.Event()
    marks = {}

    def canceller() -> None:
        started.wait()
        time.sleep(delay_s)
        marks["set"] = time.perf_counter()
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    engine.reset()
    stream = engine.stream(messages, params, cancel)
    if wait_for is None:  # cancel while the prompt is read: start the clock now
        started.set()
    for ev in stream:
        if ev.kind == wait_for:
            started.set()
        if ev.kind == "stats":
            marks["stopped"] = time.perf_counter()
            finish = ev.stats.finish_reason
    started.set()
    thread.join()
    assert finish == "cancelled", finish
    return (marks["stopped"] - marks["set"]) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if args.model is None:
        from tests.model_files import smollm2_path

        args.model = smollm2_path()
    rng = random.Random(0)
    short = [Message("user", "Tell me a long story about a lighthouse.")]
    long_text = " ".join(f"Line {i}: the value of item {i} is {i * 13 % 97}." for i in range(300))
    result = {"bench": "cancel_latency", "model": args.model.name}
    with LlamaEngine(args.model, LoadParams(n_ctx=8192, n_batch=8192)) as engine:
        gen = [one_cancel(engine, short, GenParams(max_tokens=2000, seed=1, ignore_eos=True), rng.uniform(0.2, 1.0), "answer") for _ in range(args.runs)]
        # The prompt is read in one batch of several thousand tokens (seconds on a CPU).
        prompt_ms = [one_cancel(engine, [Message("user", long_text)], GenParams(max_tokens=10), rng.uniform(0.1, 0.8), None) for _ in range(args.runs)]
        prompt_tokens = engine.count_prompt_tokens([Message("user", long_text)])
    for name, values in (("generation", gen), ("prompt", prompt_ms)):
        result[name] = {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1), "runs": len(values)}
    result["prompt_tokens"] = prompt_tokens
    print(json.dumps(result))


if __name__ == "__main__":
    main()
