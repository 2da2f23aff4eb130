"""How much GPU and host memory a layers setting costs, before anything is loaded.

llama.cpp offloads the *last* n blocks, then the output head as the final step, so
the GPU share is exactly: the weights of those tensors (summed from the GGUF), the
KV cache of those blocks at the chosen context, the compute buffers, and the fixed
cost of the GPU runtime itself. Everything else (token embeddings, blocks left on
the CPU, their KV cache) is host memory. See docs/benchmarks.md for the estimate
against what a GPU reported after load.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.context_rules import default_context
from app.core.gguf_info import ModelLayout
from app.core.hardware import Hardware

MIB = 1024 * 1024
GB = 1000**3

# Fixed cost of a GPU runtime in the process (CUDA context and cuBLAS workspace; Vulkan's
# instance, device and pipelines). Both read off one H100 with the same model and settings
# (memory in use after a load, minus the compute buffer llama.cpp reported; docs/benchmarks.md):
# CUDA 527 MiB, Vulkan 50 MiB, each the same at 4k and 32k context and from 0 to 41 layers.
# Metal's is a conservative guess: no Mac has measured it.
RUNTIME_OVERHEAD = {"CUDA": 527 * MIB, "Metal": 256 * MIB, "Vulkan": 50 * MIB}
DEFAULT_OVERHEAD = 256 * MIB

# Bytes per element of the context (K/V) cache. q8_0 stores blocks of 32 values as 32 bytes
# plus one f16 scale: half of f16's memory, decoding ~20% slower deep in a 16k context
# (measured on an H200). A quantized V cache needs flash attention, which the estimate assumes.
KV_TYPE_BYTES = {"f16": 2.0, "q8_0": 34 / 32}
KV_SETTINGS = ("auto", "f16", "q8_0")

# Prompt micro-batches tried with GPU offload, largest first. With layers left on the CPU of a
# GPU build, llama.cpp streams those layers' weights to the GPU once per micro-batch, so a
# bigger one reads prompts much faster (prefill of a Phi-4 Q4_K_M on an H200 at 10/20/30 of
# 41 layers: 490/726/1262 tok/s at 512, 1426/1955/2616 at 2048); even with every layer there,
# 2048 beats 512 by 8%. On the CPU 512 is as fast as any and costs the least memory.
GPU_MICRO_BATCHES = (2048, 1024, 512)
CPU_MICRO_BATCH = 512

# Head-room kept free when choosing "Auto": other programs and the desktop also use
# the GPU, and fragmentation costs a little.
def safety_margin(total_bytes: int) -> int:
    return max(512 * MIB, total_bytes // 20)


@dataclass(frozen=True, slots=True)
class FitEstimate:
    n_gpu_layers: int
    layer_count: int
    n_ctx: int
    gpu_weights: int
    gpu_kv: int
    gpu_compute: int
    gpu_overhead: int
    ram_weights: int
    ram_kv: int
    ram_compute: int
    gpu_free: int
    gpu_total: int
    ram_available: int
    kv_type: str = "f16"
    n_ubatch: int = CPU_MICRO_BATCH

    @property
    def gpu_bytes(self) -> int:
        return self.gpu_weights + self.gpu_kv + self.gpu_compute + self.gpu_overhead

    @property
    def ram_bytes(self) -> int:
        return self.ram_weights + self.ram_kv + self.ram_compute

    @property
    def fits_gpu(self) -> bool:
        return self.n_gpu_layers == 0 or self.gpu_bytes <= self.gpu_free

    @property
    def fits_ram(self) -> bool:
        return not self.ram_available or self.ram_bytes <= self.ram_available

    @property
    def output_on_gpu(self) -> bool:
        return self.n_gpu_layers >= self.layer_count

    def label(self, auto_q8: bool = False) -> str:
        """"38/41 layers on GPU: 8.4 GB of 11.6 GB free" and where the rest goes; a q8_0
        context cache is named (`auto_q8`: chosen because only then does every layer fit)."""
        head = f"{self.n_gpu_layers}/{self.layer_count} layers on GPU"
        cache = ""
        if self.kv_type != "f16":
            cache = f"; context cache at {self.kv_type}" + (" so every layer fits" if auto_q8 else "")
        if self.n_gpu_layers == 0:
            return f"{head}: all on the CPU, {gb(self.ram_bytes)} of RAM{cache}"
        text = f"{head}: {gb(self.gpu_bytes)} of {gb(self.gpu_free)} free"
        if not self.fits_gpu:
            text += " (does not fit)"
        if self.n_gpu_layers == self.layer_count - 1:
            text += "; output layer on the CPU (much slower)"
        return text + cache


def gb(n: int) -> str:
    return f"{n / GB:.1f} GB"


def _compute_buffers(layout: ModelLayout, n_ctx: int, n_ubatch: int, gpu_layers: int,
                     flash_attn: bool) -> tuple[int, int]:
    """(device, host) compute buffer bytes for one micro-batch of `n_ubatch` tokens.

    Fitted to the buffer sizes llama.cpp's scheduler reported on CUDA for a Phi-4
    shape at 4k and 32k context, in terms of the model's own dimensions: the logits
    of a micro-batch, about 4 bytes per (context x micro-batch) position for the
    attention mask and softmax work, the attention scores themselves when flash
    attention is off, and a small fixed part. With no layers on the GPU, llama.cpp
    still runs big prompt batches there and stages the largest weight (the output
    head) in the compute buffer; the attention work then stays on the CPU. CUDA's and
    Vulkan's schedulers reported the same buffers within 30 MiB.

    Every term but the fixed part is per token of the micro-batch (one logits row, one
    mask row, one row of scores per token), which is how llama.cpp sizes these buffers:
    for the largest graph a micro-batch of `n_ubatch` tokens builds. So the same formula
    holds at 1024 and 2048, which the micro-batch choice relies on (bench/gpu_fit.py
    re-measures it at the micro-batch chosen).
    """
    logits = n_ubatch * layout.n_vocab * 4
    device = logits + 24 * MIB
    if gpu_layers > 0:  # with no blocks there, attention (and its mask) stays on the CPU
        device += 4 * n_ctx * n_ubatch
    if not flash_attn:
        device += n_ubatch * n_ctx * layout.n_head * 4
    if gpu_layers == 0:
        # The staged output head, and the micro-batch's activations around it (about three
        # n_embd-wide f32 rows per token: 120 MiB at 2048 tokens for Phi-4, measured on CUDA).
        device += layout.output_bytes + 3 * n_ubatch * layout.n_embd * 4
    host = n_ubatch * (layout.n_embd * 4 * 4) + 2 * n_ctx * n_ubatch
    if gpu_layers < layout.layer_count:
        host += logits
    return device, host


def estimate(layout: ModelLayout, n_gpu_layers: int, n_ctx: int, hw: Hardware | None = None, *,
             n_ubatch: int = CPU_MICRO_BATCH, kv_type: str = "f16", flash_attn: bool = True) -> FitEstimate:
    """Memory for `n_gpu_layers` of `layout.layer_count` on the GPU at `n_ctx` tokens, with
    prompts read `n_ubatch` tokens at a time into a `kv_type` ("f16", "q8_0") context cache."""
    kv_type_bytes = KV_TYPE_BYTES[kv_type]
    blocks = layout.block_count
    k = max(0, min(n_gpu_layers if n_gpu_layers >= 0 else layout.layer_count, layout.layer_count))
    gpu_blocks = min(k, blocks)
    output_on_gpu = k > blocks
    kv_block = int(layout.kv_bytes_per_token_per_block(kv_type_bytes) * n_ctx)
    gpu_weights = sum(layout.block_bytes[blocks - gpu_blocks:]) + (layout.output_bytes if output_on_gpu else 0)
    all_weights = sum(layout.block_bytes) + layout.output_bytes + layout.input_bytes + layout.other_bytes
    device_compute, host_compute = _compute_buffers(layout, n_ctx, n_ubatch, k, flash_attn)
    has_gpu = bool(hw and hw.gpus and hw.supports_offload)
    backend = hw.backend_name if hw else "CPU only"
    # A GPU build uses the GPU for big prompt batches even with no layers on it.
    gpu_runtime = has_gpu or k > 0
    return FitEstimate(
        n_gpu_layers=k,
        layer_count=layout.layer_count,
        n_ctx=n_ctx,
        gpu_weights=gpu_weights,
        gpu_kv=kv_block * gpu_blocks,
        gpu_compute=device_compute if gpu_runtime else 0,
        gpu_overhead=RUNTIME_OVERHEAD.get(backend, DEFAULT_OVERHEAD) if gpu_runtime else 0,
        ram_weights=all_weights - gpu_weights,
        ram_kv=kv_block * (blocks - gpu_blocks),
        ram_compute=host_compute if gpu_runtime else device_compute + host_compute,
        gpu_free=hw.gpu_free_bytes if hw else 0,
        gpu_total=hw.gpu_total_bytes if hw else 0,
        ram_available=hw.ram_available_bytes if hw else 0,
        kv_type=kv_type,
        n_ubatch=n_ubatch,
    )


def _offloads(hw: Hardware) -> bool:
    return bool(hw.gpus and hw.supports_offload)


def gpu_budget(hw: Hardware) -> int:
    """GPU bytes a load may plan to use: what is free, less the safety margin."""
    return hw.gpu_free_bytes - safety_margin(hw.gpu_total_bytes)


def auto_layers(layout: ModelLayout, n_ctx: int, hw: Hardware, kv_type: str = "f16", **kw) -> int:
    """The most layers whose estimate fits the free GPU memory with a safety margin, with
    a `kv_type` context cache. Decided at the smallest micro-batch (unless `n_ubatch` says
    otherwise): layers are worth more than a faster prompt, which grows into what is left."""
    if not _offloads(hw):
        return 0
    budget = gpu_budget(hw)
    best = 0
    for k in range(1, layout.layer_count + 1):
        if estimate(layout, k, n_ctx, hw, kv_type=kv_type, **kw).gpu_bytes <= budget:
            best = k
    return best


def micro_batch(layout: ModelLayout | None, n_gpu_layers: int, n_ctx: int, hw: Hardware,
                kv_type: str = "f16") -> int:
    """Tokens per prompt micro-batch for a load of `n_gpu_layers` (already resolved).

    Without GPU offload: 512. With it, at any layers count (with none, llama.cpp still runs
    big prompt batches on the GPU): the largest of 2048, 1024, 512 that is no longer than
    the context and whose estimate still fits the GPU budget that "Auto" layers use. An
    unread layout gets 512, the size whose cost the layers were measured at.
    """
    if layout is None or not _offloads(hw):
        return min(CPU_MICRO_BATCH, n_ctx)
    budget = gpu_budget(hw)
    for n in GPU_MICRO_BATCHES:
        if n <= n_ctx and estimate(layout, n_gpu_layers, n_ctx, hw, n_ubatch=n, kv_type=kv_type).gpu_bytes <= budget:
            return n
    return min(CPU_MICRO_BATCH, n_ctx)  # not even the smallest fits: the layers are the problem


def estimate_for_info(path, n_gpu_layers: int = -1, n_ctx: int | None = None,
                      hw: Hardware | None = None) -> dict:
    """A JSON-ready summary for `models info`: memory at full offload and on the CPU."""
    from app.core.gguf_info import read_layout

    layout = read_layout(path)
    ctx = default_context(layout.context_length, n_ctx)
    full = estimate(layout, n_gpu_layers, ctx, hw)
    cpu = estimate(layout, 0, ctx, None)
    return {
        "n_ctx": ctx,
        "layer_count": layout.layer_count,
        "gpu_layers": full.n_gpu_layers,
        "gpu_bytes": full.gpu_bytes,
        "ram_bytes_with_gpu": full.ram_bytes,
        "ram_bytes_cpu_only": cpu.ram_bytes,
        "kv_bytes": full.gpu_kv + full.ram_kv,
    }


AUTO_LAYERS = -2  # a layers setting meaning "the most that fit" (-1 keeps meaning "all")


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What a load will do, decided before it starts: the slider's whole input."""

    layout: ModelLayout | None  # None when the file could not be read ahead of loading
    hardware: Hardware
    n_ctx: int
    n_gpu_layers: int  # resolved: 0..layout.layer_count
    auto: bool
    kv_cache_type: str = "f16"  # resolved: "f16" or "q8_0"
    kv_auto_q8: bool = False  # the "auto" cache setting chose q8_0: only then does every layer fit
    n_batch: int = CPU_MICRO_BATCH  # tokens per prompt micro-batch
    kv_setting: str = "auto"  # the cache setting asked for: "auto", "f16" or "q8_0"

    def estimate(self, n_gpu_layers: int | None = None) -> FitEstimate | None:
        """The estimate at this plan's micro-batch and cache precision (at `n_gpu_layers`
        instead of the plan's own when given)."""
        if self.layout is None:
            return None
        k = self.n_gpu_layers if n_gpu_layers is None else n_gpu_layers
        return estimate(self.layout, k, self.n_ctx, self.hardware, n_ubatch=self.n_batch, kv_type=self.kv_cache_type)

    def replan(self, requested: int) -> LoadPlan:
        """The plan the same load would make with another layers setting (a count, -1 or
        AUTO_LAYERS): its cache precision and micro-batch follow the layers."""
        return plan_load(self.layout, self.hardware, self.n_ctx, requested, self.kv_setting)


def manual_kv_type(kv_setting: str) -> str:
    """The cache precision of a load with a layers count (not Auto): "auto" keeps f16."""
    return kv_setting if kv_setting in KV_TYPE_BYTES else "f16"


def plan_load(layout: ModelLayout | None, hw: Hardware, n_ctx: int, requested: int,
              kv_setting: str = "auto") -> LoadPlan:
    """Resolve a layers setting (a count, -1 for all, AUTO_LAYERS) and a context cache setting
    ("auto", "f16", "q8_0") against this machine, then the micro-batch in what is left.

    "auto" keeps the cache at f16 unless the layers are Auto on a GPU and a q8_0 cache is what
    lets every layer fit: a layer on the CPU costs far more speed than q8_0 does (all 41 of
    Phi-4 on the GPU decode about ten times faster than 30 of them; q8_0 decodes ~20% slower,
    and only deep in a long context).
    """
    auto = requested == AUTO_LAYERS
    offload = _offloads(hw)
    kv_type, kv_auto_q8 = manual_kv_type(kv_setting), False
    if layout is None:
        layers = 0 if auto or not offload else requested
    elif not offload:
        layers = 0
    elif auto:
        layers = auto_layers(layout, n_ctx, hw, kv_type)
        if kv_setting == "auto" and layers < layout.layer_count \
                and auto_layers(layout, n_ctx, hw, "q8_0") == layout.layer_count:
            layers, kv_type, kv_auto_q8 = layout.layer_count, "q8_0", True
    elif requested < 0:
        layers = layout.layer_count
    else:
        layers = min(requested, layout.layer_count)
    n_batch = micro_batch(layout, layers, n_ctx, hw, kv_type) if offload else min(CPU_MICRO_BATCH, n_ctx)
    return LoadPlan(layout=layout, hardware=hw, n_ctx=n_ctx, n_gpu_layers=layers, auto=auto,
                    kv_cache_type=kv_type, kv_auto_q8=kv_auto_q8, n_batch=n_batch, kv_setting=kv_setting)


def retry_layers(plan: LoadPlan, failed_layers: int) -> int | None:
    """After an out-of-memory load: the largest setting the estimate says fits, below
    the one that failed (None when the CPU is the only option left or nothing is known).
    A retry is a layers count, so its cache is the one a count gets (see manual_kv_type)."""
    if plan.layout is None or failed_layers <= 0:
        return None
    fit = auto_layers(plan.layout, plan.n_ctx, plan.hardware, manual_kv_type(plan.kv_setting))
    return min(fit, failed_layers - 1)
