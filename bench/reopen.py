"""Reopening a thread with a long document: time to the first token of a follow-up when the
thread's saved context state is loaded, against reading the whole prompt again.

A thread is asked about a document of about --tokens tokens; the engine is closed (which
keeps the state) and a new one loaded, as after a restart of the app; then the follow-up is
asked with the saved state, and once more by a third engine that keeps none (the re-read).
The micro-batch is the app's choice for this machine and layers setting. Prints one JSON object.

    python bench/reopen.py MODEL.gguf [--tokens 8000] [--ctx 10240] [--layers 0] [--kv f16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.fit import plan_load  # noqa: E402
from app.core.gguf_info import read_layout  # noqa: E402
from app.core.hardware import detect  # noqa: E402
from app.core.saved_states import StateStore  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402

PARAMS = GenParams(max_tokens=16, temperature=0.0, seed=1, ignore_eos=True)


def document(engine: LlamaEngine, tokens: int) -> str:
    """Varied, deterministic prose of about `tokens` tokens in this model's tokenizer."""
    lines, i = [], 0
    words = ("ledger", "harbour", "copper", "invoice", "northern", "quarterly", "crate", "permit")
    while True:
        for _ in range(50):
            lines.append(f"Entry {i}: the {words[i % 8]} shipment {i * 37 % 1009} cleared {words[(i * 3) % 8]} "
                         f"dock {i % 17} on day {i % 365}, weighing {i * 13 % 997} kg.")
            i += 1
        text = "\n".join(lines)
        if engine.count_tokens(text) >= tokens:
            return text


def first_token(engine: LlamaEngine, messages: list[Message]) -> dict:
    t0 = time.perf_counter()
    ttft = None
    for event in engine.stream(messages, PARAMS):
        if ttft is None and event.kind in ("reasoning", "answer"):
            ttft = time.perf_counter() - t0
        if event.kind == "stats":
            stats = event.stats
    return {"ttft_s": round(ttft if ttft is not None else stats.prompt_seconds, 3),
            "prompt_tokens": stats.prompt_tokens, "read_tokens": stats.evaluated_prompt_tokens,
            "restored_tokens": stats.restored_prompt_tokens, "restore_s": stats.restore_seconds,
            "prompt_s": stats.prompt_seconds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--tokens", type=int, default=8000)
    ap.add_argument("--ctx", type=int, default=10240)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--kv", choices=("f16", "q8_0"), default="f16")
    ap.add_argument("--states", type=Path, help="folder for the saved states (default: a temporary one)")
    args = ap.parse_args()
    hw = detect()
    plan = plan_load(read_layout(args.model), hw, args.ctx, args.layers, args.kv)
    load = LoadParams(n_gpu_layers=plan.n_gpu_layers, n_ctx=args.ctx, n_batch=plan.n_batch,
                      kv_cache_type=plan.kv_cache_type)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(args.states or Path(tmp), budget_bytes=1000**4)
        t0 = time.perf_counter()
        engine = LlamaEngine(args.model, LoadParams(**{**_fields(load), "states": store}))
        load_s = time.perf_counter() - t0
        doc = document(engine, args.tokens)
        thread = [Message("system", "Answer from the document."), Message("user", doc + "\n\nWhich dock did entry 7 clear?")]
        first = first_token(engine, thread)
        reply = "Dock 7."
        t0 = time.perf_counter()
        engine.close()  # keeps the thread's state, as quitting the app does
        close_s = time.perf_counter() - t0
        follow_up = [*thread, Message("assistant", reply), Message("user", "And entry 12?")]
        with LlamaEngine(args.model, LoadParams(**{**_fields(load), "states": store})) as engine:
            restored = first_token(engine, follow_up)
        with LlamaEngine(args.model, load) as engine:
            reread = first_token(engine, follow_up)
        state_bytes = store.usage_bytes()
    print(json.dumps({
        "model": args.model.name, "backend": hw.backend_name, "n_gpu_layers": plan.n_gpu_layers,
        "n_ctx": args.ctx, "n_batch": plan.n_batch, "kv_cache": plan.kv_cache_type, "model_load_s": round(load_s, 2),
        "first_ask": first, "close_with_save_s": round(close_s, 3), "state_bytes": state_bytes,
        "restored": restored, "reread": reread,
        "ttft_ratio_restored_vs_reread": round(restored["ttft_s"] / reread["ttft_s"], 3),
    }))


def _fields(load: LoadParams) -> dict:
    return {name: getattr(load, name) for name in load.__dataclass_fields__}


if __name__ == "__main__":
    main()
