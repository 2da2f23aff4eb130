"""What the loop watch costs per token of thinking.

Feeds real traces (tests/core/data/traces and the revisiting traces), cut into SmolLM2's
own tokens, through ThinkingControl.watch as the engine does (one reasoning event per
token) and times it. Prints JSON: nanoseconds per token (median of --runs), and that cost
as a share of a token's time at 20 tok/s (Phi-4-reasoning on a laptop GPU) and 120 tok/s
(SmolLM2 on two CPU cores, bench/decode_overhead.py's speed).

    python bench/loop_detector.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.thinking import ThinkingControl  # noqa: E402
from app.core.types import GenParams, TextEvent  # noqa: E402
from tests.core.revisiting_traces import all_traces  # noqa: E402
from tests.model_files import smollm2_path  # noqa: E402

TRACES = Path(__file__).resolve().parents[1] / "tests" / "core" / "data" / "traces"


def token_pieces(engine: LlamaEngine, text: str) -> list[str]:
    out = []
    for t in engine.tokenize(text, starts_prompt=False):
        out.append(engine._piece(t).decode("utf-8", errors="replace"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    texts = {**all_traces(), **{p.name: p.read_text(encoding="utf-8") for p in sorted(TRACES.glob("*.txt"))}}
    with LlamaEngine(smollm2_path(), LoadParams(n_ctx=512)) as engine:
        streams = [[[TextEvent("reasoning", p)] for p in token_pieces(engine, t)] for t in texts.values()]
    tokens = sum(len(s) for s in streams)
    per_token = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for stream in streams:
            control = ThinkingControl(GenParams())
            for events in stream:
                control.watch(events)
        per_token.append((time.perf_counter() - start) / tokens)
    ns = statistics.median(per_token) * 1e9
    print(json.dumps({
        "bench": "loop_detector",
        "traces": len(streams),
        "tokens": tokens,
        "runs": args.runs,
        "ns_per_token_median": round(ns),
        "ns_per_token": [round(x * 1e9) for x in per_token],
        "share_of_token_at_20_tok_s": round(ns * 1e-9 * 20, 6),
        "share_of_token_at_120_tok_s": round(ns * 1e-9 * 120, 6),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
