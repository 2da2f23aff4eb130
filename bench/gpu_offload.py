"""GPU offload by backend: load time, prefill and decode speed and GPU memory for each layers
setting and context size, one fresh process per setting, through the app's own engine.

Each build of llama-cpp-python is named with the folder to put first on the import path, so
two builds (say CUDA and Vulkan) are measured on the same machine, model and settings:

    python bench/gpu_offload.py MODEL.gguf --build CUDA=/tmp/cuda-site --build Vulkan=/tmp/vk-site \
        [--layers 0 10 20 30 40 41] [--contexts 4096 32768] [--prompt 2048] [--tokens 64]

Prints one JSON object per setting, then a summary object. GPU memory is nvidia-smi's
memory in use after the load minus its reading before the process started (so the
runtime's own cost counts); `peak_mib` is the same after prefill and decode. Prefill is a
prompt of about --prompt tokens read in 512-token micro-batches; decode is --tokens tokens
generated after it, end-of-generation banned. A short warm-up reply runs first, so shader
and kernel set-up stay out of the speeds (it is in load_s's neighbour, warmup_s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return int(out.split()[0])


def prompt_text(engine, tokens: int) -> str:
    """Plain words that come to about `tokens` prompt tokens with the model's template."""
    words = [f"w{(i * 7919) % 90000}" for i in range(tokens)]
    from app.core.types import Message

    while len(words) > 16 and engine.count_prompt_tokens([Message("user", " ".join(words))]) > tokens:
        words = words[: int(len(words) * 0.95)]
    return " ".join(words)


def child(args) -> None:
    """One setting in this process; prints its JSON row."""
    sys.path.insert(0, str(ROOT))
    from app.core import llama_runtime
    from app.core.engine import LlamaEngine, LoadParams
    from app.core.fit import MIB, estimate
    from app.core.gguf_info import read_layout
    from app.core.hardware import detect
    from app.core.types import GenParams, Message

    hw = detect()
    layout = read_layout(args.model)
    est = estimate(layout, args.child_layers, args.child_ctx, hw)
    mark = llama_runtime.log_mark()
    start = time.perf_counter()
    engine = LlamaEngine(args.model, LoadParams(n_gpu_layers=args.child_layers, n_ctx=args.child_ctx,
                                                flash_attn=True, n_batch=512))
    load_s = time.perf_counter() - start
    after_load = used_mib() - args.child_base
    buffers = [ln.strip() for ln in llama_runtime.lines_since(mark) if "buffer size" in ln]
    start = time.perf_counter()
    list(engine.stream([Message("user", "hi")], GenParams(max_tokens=4, seed=1, ignore_eos=True)))
    warmup_s = time.perf_counter() - start
    engine.reset()
    text = prompt_text(engine, args.prompt)
    stats = list(engine.stream([Message("user", text)],
                               GenParams(max_tokens=args.tokens, seed=1, ignore_eos=True)))[-1].stats
    peak = used_mib() - args.child_base
    engine.close()
    print("ROW " + json.dumps({
        "backend": hw.backend_name, "device": hw.gpus[0].description if hw.gpus else "",
        "n_ctx": args.child_ctx, "n_gpu_layers": args.child_layers,
        "load_s": round(load_s, 2), "warmup_s": round(warmup_s, 2),
        "prompt_tokens": stats.evaluated_prompt_tokens,
        "prefill_tok_s": round(stats.evaluated_prompt_tokens / stats.prompt_seconds, 1),
        "decode_tok_s": round(stats.tokens_per_second, 2), "decode_tokens": stats.generated_tokens,
        "gpu_mib": after_load, "peak_mib": peak,
        "estimate_mib": round(est.gpu_bytes / MIB),
        "error_pct": round(100 * (est.gpu_bytes / MIB - after_load) / after_load, 1) if after_load else None,
        "est_parts_mib": {k: round(getattr(est, k) / MIB) for k in ("gpu_weights", "gpu_kv", "gpu_compute",
                                                                     "gpu_overhead")},
        "llama_buffers": buffers,
    }), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--build", action="append", default=[], metavar="NAME=PATH",
                    help="a llama-cpp-python build: a name for the table and the folder holding it")
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 10, 20, 30, 40, 41])
    ap.add_argument("--contexts", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--timeout", type=int, default=600, help="seconds for one setting")
    ap.add_argument("--child-layers", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-ctx", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-base", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_layers is not None:
        child(args)
        return
    builds = [b.split("=", 1) for b in args.build] or [["default", ""]]
    rows = []
    for name, path in builds:
        env = dict(os.environ)
        if path:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH", "")]))
        for n_ctx in args.contexts:
            for layers in args.layers:
                base = used_mib()
                cmd = [sys.executable, __file__, str(args.model), "--prompt", str(args.prompt), "--tokens",
                       str(args.tokens), "--child-layers", str(layers), "--child-ctx", str(n_ctx),
                       "--child-base", str(base)]
                try:
                    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
                    lines = [ln[4:] for ln in proc.stdout.splitlines() if ln.startswith("ROW ")]
                    row = json.loads(lines[-1]) if lines else {"error": proc.stderr[-1500:]}
                except subprocess.TimeoutExpired:
                    row = {"error": f"no result within {args.timeout} s"}
                row = {"build": name, **row} if "error" not in row else {"build": name, "n_ctx": n_ctx,
                                                                         "n_gpu_layers": layers, **row}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(json.dumps({"summary": [{k: r.get(k) for k in ("build", "n_ctx", "n_gpu_layers", "load_s",
                                                        "prefill_tok_s", "decode_tok_s", "gpu_mib", "error_pct")}
                                  for r in rows]}), flush=True)


if __name__ == "__main__":
    main()
