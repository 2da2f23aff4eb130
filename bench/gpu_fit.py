"""The fit estimate against the GPU memory really in use after a load, per layers
setting, context size and context cache precision, with decode speed. Needs a GPU build
and nvidia-smi. Each load uses the prompt micro-batch the app would choose for it
(app.core.fit.micro_batch, from the free memory read before the first load), unless
--ubatch fixes one. Prints one JSON object per setting (n_batch and kv_cache_type
included), then the model's per-layer bytes.

    python bench/gpu_fit.py MODEL.gguf [--layers 0 10 20 30 40 41] [--contexts 4096 32768]
                            [--kv f16 q8_0] [--ubatch N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import llama_runtime  # noqa: E402
from app.core.engine import LlamaEngine, LoadParams  # noqa: E402
from app.core.fit import KV_TYPE_BYTES, MIB, estimate, micro_batch  # noqa: E402
from app.core.gguf_info import read_layout  # noqa: E402
from app.core.hardware import detect  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402


def used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def measure(args, layout, hw, base: int, layers: int, n_ctx: int, kv: str) -> None:
    n_batch = args.ubatch or micro_batch(layout, layers, n_ctx, hw, kv)
    est = estimate(layout, layers, n_ctx, hw, n_ubatch=n_batch, kv_type=kv)
    mark = llama_runtime.log_mark()
    start = time.perf_counter()
    engine = LlamaEngine(args.model, LoadParams(n_gpu_layers=layers, n_ctx=n_ctx, flash_attn=True,
                                                n_batch=n_batch, kv_cache_type=kv))
    load_s = time.perf_counter() - start
    used = used_mib() - base
    buffers = [ln.strip() for ln in llama_runtime.lines_since(mark) if "buffer size" in ln]
    events = list(engine.stream([Message("user", "hi")],
                                GenParams(max_tokens=args.tokens, seed=1, ignore_eos=True)))
    tok_s = events[-1].stats.tokens_per_second
    engine.close()
    print(json.dumps({
        "n_ctx": n_ctx, "n_gpu_layers": layers, "kv_cache_type": kv, "n_batch": n_batch,
        "n_batch_chosen_by": "--ubatch" if args.ubatch else "fit.micro_batch", "measured_mib": used,
        "estimate_mib": round(est.gpu_bytes / MIB), "error_pct": round(100 * (est.gpu_bytes / MIB - used) / used, 1),
        "est_parts_mib": {k: round(getattr(est, k) / MIB) for k in ("gpu_weights", "gpu_kv", "gpu_compute", "gpu_overhead")},
        "decode_tok_s": round(tok_s, 2), "load_s": round(load_s, 2), "llama_buffers": buffers,
    }), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 10, 20, 30, 40, 41])
    ap.add_argument("--contexts", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--kv", nargs="+", choices=sorted(KV_TYPE_BYTES), default=["f16", "q8_0"],
                    help="context cache precisions to measure (default: both)")
    ap.add_argument("--ubatch", type=int, default=None,
                    help="prompt micro-batch for every load (default: the one the app chooses)")
    args = ap.parse_args()
    base = used_mib()  # before this process touches the GPU: the runtime's cost counts
    layout = read_layout(args.model)
    hw = detect()
    print(json.dumps({"devices": [d.__repr__() for d in hw.devices], "backend": hw.backend_name}), flush=True)
    for kv in args.kv:
        for n_ctx in args.contexts:
            for layers in args.layers:
                measure(args, layout, hw, base, layers, n_ctx, kv)
    print(json.dumps({"block_bytes": layout.block_bytes, "output_bytes": layout.output_bytes,
                      "input_bytes": layout.input_bytes, "other_bytes": layout.other_bytes,
                      "size_bytes": layout.size_bytes, "quant": layout.quant}), flush=True)


if __name__ == "__main__":
    main()
