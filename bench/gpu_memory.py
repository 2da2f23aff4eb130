"""GPU memory in use after loading a model with LlamaEngine, per n_gpu_layers and
context size, with a short decode speed at 4k. Needs a CUDA build and nvidia-smi.
Prints one JSON object per setting (the data the fit estimator is checked against).

    python bench/gpu_memory.py MODEL.gguf [--layers 0 10 20 30 40 41] [--contexts 4096 32768]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402


def used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 10, 20, 30, 40, 41])
    ap.add_argument("--contexts", type=int, nargs="+", default=[4096, 32768])
    args = ap.parse_args()
    base = used_mib()
    for n_ctx in args.contexts:
        for layers in args.layers:
            start = time.perf_counter()
            engine = LlamaEngine(args.model, LoadParams(n_gpu_layers=layers, n_ctx=n_ctx, flash_attn=True))
            load_s = time.perf_counter() - start
            used = used_mib() - base
            tok_s = None
            if n_ctx == min(args.contexts):
                events = list(engine.stream([Message("user", "hi")], GenParams(max_tokens=48, seed=1, ignore_eos=True)))
                tok_s = events[-1].stats.tokens_per_second
            engine.close()
            print(json.dumps({"n_ctx": n_ctx, "n_gpu_layers": layers, "gpu_used_mib": used,
                              "load_s": round(load_s, 2), "decode_tok_s": tok_s}), flush=True)


if __name__ == "__main__":
    main()
