"""Decode speed of the app's streaming path vs a raw llama_decode loop.

Both run in one process on the same loaded model, prompt, sampler settings and token
count (end-of-generation banned so every run makes exactly --tokens tokens). The app
path is LlamaEngine.stream with the reasoning parser, every event consumed; the raw
path is sample + llama_decode and nothing else. Prints JSON; goal: ratio >= 0.97.

    python bench/decode_overhead.py [--model PATH] [--tokens 256] [--runs 5] [--n-gpu-layers N] [--thinking]

--thinking loads the model with a chat template that opens the thinking, so every token
is thinking: the budget check and the loop watch run on each one (a budget is set that
is never reached).
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

import llama_cpp  # noqa: E402

from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.sampling import build_sampler  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402

PROMPT = [Message("user", "Think step by step: how many prime numbers are there below 100?")]
OPENS_THINKING = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "<|im_start|>assistant\n<think>\n"
)


def raw_tokens_per_second(engine: LlamaEngine, params: GenParams, n: int) -> float:
    engine.reset()
    prompt = engine.tokenize(engine.render(PROMPT).text)
    arr = (llama_cpp.llama_token * len(prompt))(*prompt)
    ctx = engine._ctx  # the bench measures the engine's own context on purpose
    assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(prompt))) == 0
    smpl = build_sampler(engine._vocab, params)
    one = (llama_cpp.llama_token * 1)()
    batch = llama_cpp.llama_batch_get_one(one, 1)
    start = time.perf_counter()
    for _ in range(n):
        one[0] = llama_cpp.llama_sampler_sample(smpl, ctx, -1)
        assert llama_cpp.llama_decode(ctx, batch) == 0
    elapsed = time.perf_counter() - start
    llama_cpp.llama_sampler_free(smpl)
    engine.reset()  # the raw loop bypassed the engine's cache bookkeeping
    return n / elapsed


def app_tokens_per_second(engine: LlamaEngine, params: GenParams) -> float:
    engine.reset()
    chars = 0
    for ev in engine.stream(PROMPT, params):
        if ev.kind in ("reasoning", "answer"):
            chars += len(ev.text)  # consume the event as a client would
        elif ev.kind == "stats":
            stats = ev.stats
    assert stats.generated_tokens == params.max_tokens, stats
    return stats.tokens_per_second


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--thinking", action="store_true", help="every token is thinking (budget and loop watch on)")
    args = ap.parse_args()
    if args.model is None:
        from tests.model_files import smollm2_path

        args.model = smollm2_path()
    params = GenParams(max_tokens=args.tokens, seed=42, ignore_eos=True,
                       think_budget=args.tokens + 1 if args.thinking else None)
    load = LoadParams(n_gpu_layers=args.n_gpu_layers, n_ctx=args.ctx, n_threads=args.threads,
                      chat_template=OPENS_THINKING if args.thinking else None)
    with LlamaEngine(args.model, load) as engine:
        app_tokens_per_second(engine, GenParams(max_tokens=16, seed=1, ignore_eos=True))  # warm-up
        raw, app = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            raw.append(raw_tokens_per_second(engine, params, args.tokens))
            app.append(app_tokens_per_second(engine, params))
    result = {
        "bench": "decode_overhead",
        "model": args.model.name,
        "n_gpu_layers": args.n_gpu_layers,
        "tokens": args.tokens,
        "thinking": args.thinking,
        "runs": args.runs,
        "raw_tok_s_median": round(statistics.median(raw), 2),
        "app_tok_s_median": round(statistics.median(app), 2),
        "ratio": round(statistics.median(app) / statistics.median(raw), 4),
        # Each app run is paired with the raw run just before it, so slow drift of the
        # machine's speed cancels out of this one.
        "ratio_of_pairs_median": round(statistics.median(a / r for a, r in zip(app, raw)), 4),
        "raw_tok_s": [round(x, 2) for x in raw],
        "app_tok_s": [round(x, 2) for x in app],
        "machine": platform.machine(),
        "llama_cpp_python": llama_cpp.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
