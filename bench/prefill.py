"""Prompt reading (prefill) speed: llama.cpp's own rate at each micro-batch size against
the app's engine at the micro-batch the app chooses, for each layers setting.

For each --layers value: (a) raw llama.cpp through llama-cpp-python's low-level API: a
context with n_batch = n_ubatch = U, a prompt of --tokens random in-vocabulary tokens
decoded in chunks of U, then llama_synchronize (a GPU finishes its queued work before the
clock stops); one warm-up run, then the best of two, the cache cleared before each run.
(b) The app: `LlamaEngine.stream` with max_tokens=1 on a user message of about --tokens
prompt tokens, at the micro-batch `app.core.fit` chooses for that setting (512 where this
version of the app has no choice to make); speed from the stats event's
evaluated_prompt_tokens / prompt_seconds, one warm-up, best of two. (c) Their ratio, to
the best raw micro-batch and to raw at the app's own micro-batch. The warm-ups are shorter
than the prompt (two micro-batches raw, a quarter of the message in the app): they are
there for first-use costs, not for the prompt's depth.

Same threads, flash-attention setting, context size and CPU weight layout on both sides.
On a build without GPU offload the layers list is just [0].

    python bench/prefill.py MODEL.gguf [--layers 0 10 20 30 40 41] [--tokens 4096] [--ctx N]
                            [--ubatch 512 1024 2048] [--threads N]

Prints one JSON object per layers value, then a summary object.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp

from app.core import fit, llama_runtime
from app.core.engine import LlamaEngine, LoadParams, default_threads
from app.core.errors import AppError
from app.core.gguf_info import read_layout
from app.core.hardware import detect
from app.core.types import GenParams, Message

ALL_LAYERS = 0x7FFFFFFF


def random_prompt(model, n: int, seed: int = 1) -> list[int]:
    """`n` tokens drawn from the vocabulary, control and end-of-generation tokens left out,
    after the start-of-text token where the model adds one."""
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    rng = random.Random(seed)
    out = [llama_cpp.llama_vocab_bos(vocab)] if llama_cpp.llama_vocab_get_add_bos(vocab) else []
    while len(out) < n:
        t = rng.randrange(n_vocab)
        if not (llama_cpp.llama_vocab_is_control(vocab, t) or llama_cpp.llama_vocab_is_eog(vocab, t)):
            out.append(t)
    return out


def raw_context(model, n_ctx: int, ubatch: int, threads: int):
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = cp.n_ubatch = ubatch
    cp.n_seq_max = 1
    cp.n_threads = cp.n_threads_batch = threads
    cp.no_perf = True
    cp.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO  # as the app's engine leaves it
    return llama_cpp.llama_init_from_model(model, cp)


def raw_prefill_seconds(ctx, tokens: list[int], ubatch: int) -> float:
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
    start = time.perf_counter()
    for s in range(0, len(tokens), ubatch):
        chunk = tokens[s : s + ubatch]
        arr = (llama_cpp.llama_token * len(chunk))(*chunk)
        rc = llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(chunk)))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
    llama_cpp.llama_synchronize(ctx)
    return time.perf_counter() - start


def raw_rates(path: Path, layers: int, n_tokens: int, n_ctx: int, ubatches: list[int], threads: int) -> dict:
    """Best-of-two prefill tok/s per micro-batch (after one warm-up), or why it failed."""
    mp = llama_cpp.llama_model_default_params()
    mp.n_gpu_layers = ALL_LAYERS if layers < 0 else layers
    mp.use_extra_bufts = not llama_runtime.cpu_has_amx()  # the app's default CPU weight layout
    mark = llama_runtime.log_mark()
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), mp)
    if not model:
        return {"error": "model load failed: " + " | ".join(llama_runtime.lines_since(mark)[-3:])[:400]}
    rates: dict[str, float | str] = {}
    try:
        tokens = random_prompt(model, n_tokens)
        for u in ubatches:
            u_eff = min(u, n_ctx)
            mark = llama_runtime.log_mark()
            ctx = raw_context(model, n_ctx, u_eff, threads)
            if not ctx:
                rates[str(u)] = "context failed: " + " | ".join(llama_runtime.lines_since(mark)[-3:])[:300]
                continue
            try:
                # warm-up (kernels, buffers, caches): two full micro-batches are enough for that
                raw_prefill_seconds(ctx, tokens[: 2 * u_eff], u_eff)
                best = min(raw_prefill_seconds(ctx, tokens, u_eff) for _ in range(2))
                rates[str(u)] = round(len(tokens) / best, 1)
            except RuntimeError as exc:
                rates[str(u)] = str(exc)
            finally:
                llama_cpp.llama_free(ctx)
    finally:
        llama_cpp.llama_model_free(model)
    return {"tok_s": rates, "tokens": n_tokens}


def app_micro_batch(path: Path, layers: int, n_ctx: int) -> tuple[int, str]:
    """The micro-batch the app would load this setting with (the load plan's, as the
    generation worker uses it), and where that came from."""
    if not hasattr(fit, "micro_batch"):
        return 512, "512 (this version of app.core.fit has no micro_batch)"
    plan = fit.plan_load(read_layout(path), detect(), n_ctx, layers, "f16")
    return plan.n_batch, "fit.plan_load (fit.micro_batch)"


def prompt_text(engine: LlamaEngine, n_tokens: int) -> tuple[list[Message], int]:
    """A user message of plain words whose whole prompt is at most `n_tokens` tokens, as close
    to it as a whole number of words allows."""
    words = [f"w{(i * 7919) % 90000}" for i in range(n_tokens)]

    def count(k: int) -> int:
        return engine.count_prompt_tokens([Message("user", " ".join(words[:k]))])

    lo, hi = 1, len(words)
    if count(hi) <= n_tokens:
        lo = hi
    while lo < hi:  # the largest word count that fits
        mid = (lo + hi + 1) // 2
        if count(mid) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    messages = [Message("user", " ".join(words[:lo]))]
    return messages, engine.count_prompt_tokens(messages)


def app_rate(path: Path, layers: int, n_tokens: int, n_ctx: int, ubatch: int, threads: int) -> dict:
    """The app's prompt reading: best of two after a warm-up, from its own stats."""
    try:
        engine = LlamaEngine(path, LoadParams(n_gpu_layers=layers, n_ctx=n_ctx, n_batch=ubatch, n_threads=threads))
    except AppError as exc:
        return {"error": exc.user_message[:400]}
    try:
        messages, prompt_tokens = prompt_text(engine, n_tokens)
        params = GenParams(max_tokens=1, reply_reserve=1, seed=1, ignore_eos=True, drafts=False)
        warm_up = messages  # the whole prompt: a shorter one leaves the first full micro-batch cold
        runs = []
        for prompt in (warm_up, messages, messages):
            engine.reset()
            start = time.perf_counter()
            stats = None
            for ev in engine.stream(prompt, params):
                if ev.kind == "error":
                    return {"error": ev.message[:400]}
                if ev.kind == "stats":
                    stats = ev.stats
            runs.append((stats, time.perf_counter() - start))
        best, wall = max(runs[1:], key=lambda r: r[0].evaluated_prompt_tokens / max(r[0].prompt_seconds, 1e-6))
        return {
            "prompt_tokens": prompt_tokens,
            "evaluated_prompt_tokens": best.evaluated_prompt_tokens,
            "prompt_s": best.prompt_seconds,
            "tok_s": round(best.evaluated_prompt_tokens / max(best.prompt_seconds, 1e-6), 1),
            # the whole call: template, tokens, the prompt and one sampled token (the GPU's
            # queue is drained by then)
            "wall_s": round(wall, 3),
            "n_ctx": engine.context_size,
        }
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 10, 20, 30, 40, 41])
    ap.add_argument("--tokens", type=int, default=4096, help="prompt length")
    ap.add_argument("--ctx", type=int, default=None, help="context size (default: the prompt plus 256)")
    ap.add_argument("--ubatch", type=int, nargs="+", default=[512, 1024, 2048], help="raw micro-batch sizes")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if not args.model.is_file():
        ap.error(f"no model file at {args.model}")
    if args.tokens < 2 or any(u < 1 for u in args.ubatch):
        ap.error("--tokens must be at least 2 and every --ubatch at least 1")
    n_ctx = args.ctx or args.tokens + 256
    if args.tokens >= n_ctx:
        ap.error(f"--tokens ({args.tokens}) must be below --ctx ({n_ctx}): the reply needs a token")
    threads = args.threads or default_threads()
    llama_runtime.ensure_initialised()  # llama.cpp's log to the app's log, not stdout
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    layers_list = args.layers if offload else [0]
    hw = detect()
    rows = []
    for layers in layers_list:
        raw = raw_rates(args.model, layers, args.tokens, n_ctx, args.ubatch, threads)
        ubatch, source = app_micro_batch(args.model, layers, n_ctx)
        app = app_rate(args.model, layers, args.tokens, n_ctx, ubatch, threads)
        numeric = {u: r for u, r in raw.get("tok_s", {}).items() if isinstance(r, float)}
        best_u = max(numeric, key=numeric.get) if numeric else None
        row = {
            "bench": "prefill", "model": args.model.name, "n_gpu_layers": layers, "tokens": args.tokens,
            "n_ctx": n_ctx, "threads": threads, "raw_tok_s": raw.get("tok_s", raw),
            "raw_best_ubatch": int(best_u) if best_u else None,
            "raw_best_tok_s": numeric.get(best_u) if best_u else None,
            "app_ubatch": ubatch, "app_ubatch_source": source, "app": app,
        }
        if "tok_s" in app and best_u:
            row["ratio_app_to_best_raw"] = round(app["tok_s"] / numeric[best_u], 3)
            same = numeric.get(str(ubatch))
            row["ratio_app_to_raw_same_ubatch"] = round(app["tok_s"] / same, 3) if same else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({
        "bench": "prefill", "summary": True, "model": args.model.name, "tokens": args.tokens, "n_ctx": n_ctx,
        "threads": threads, "backend": hw.backend_name, "gpu": hw.gpus[0].description if hw.gpus else "",
        "gpu_offload": offload, "ubatch": args.ubatch,
        "rows": [{"layers": r["n_gpu_layers"], "raw_tok_s": r["raw_tok_s"], "app_ubatch": r["app_ubatch"],
                  "app_tok_s": r["app"].get("tok_s"), "ratio_app_to_best_raw": r.get("ratio_app_to_best_raw")}
                 for r in rows],
        "app_ubatch_source": rows[0]["app_ubatch_source"] if rows else None,
        "llama_cpp_python": llama_cpp.__version__, "machine": platform.machine(),
    }), flush=True)


if __name__ == "__main__":
    main()
