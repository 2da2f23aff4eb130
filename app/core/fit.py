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

    def label(self) -> str:
        """"38/41 layers on GPU: 8.4 GB of 11.6 GB free" and where the rest goes."""
        head = f"{self.n_gpu_layers}/{self.layer_count} layers on GPU"
        if self.n_gpu_layers == 0:
            return f"{head}: all on the CPU, {gb(self.ram_bytes)} of RAM"
        text = f"{head}: {gb(self.gpu_bytes)} of {gb(self.gpu_free)} free"
        if not self.fits_gpu:
            text += " (does not fit)"
        if self.n_gpu_layers == self.layer_count - 1:
            text += "; output layer on the CPU (much slower)"
        return text


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
    """
    logits = n_ubatch * layout.n_vocab * 4
    device = logits + 24 * MIB
    if gpu_layers > 0:  # with no blocks there, attention (and its mask) stays on the CPU
        device += 4 * n_ctx * n_ubatch
    if not flash_attn:
        device += n_ubatch * n_ctx * layout.n_head * 4
    if gpu_layers == 0:
        device += layout.output_bytes
    host = n_ubatch * (layout.n_embd * 4 * 4) + 2 * n_ctx * n_ubatch
    if gpu_layers < layout.layer_count:
        host += logits
    return device, host


def estimate(layout: ModelLayout, n_gpu_layers: int, n_ctx: int, hw: Hardware | None = None, *,
             n_ubatch: int = 512, kv_type_bytes: float = 2.0, flash_attn: bool = True) -> FitEstimate:
    """Memory for `n_gpu_layers` of `layout.layer_count` on the GPU at `n_ctx` tokens."""
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
    )


def auto_layers(layout: ModelLayout, n_ctx: int, hw: Hardware, **kw) -> int:
    """The most layers whose estimate fits the free GPU memory with a safety margin."""
    if not (hw.gpus and hw.supports_offload):
        return 0
    budget = hw.gpu_free_bytes - safety_margin(hw.gpu_total_bytes)
    best = 0
    for k in range(1, layout.layer_count + 1):
        if estimate(layout, k, n_ctx, hw, **kw).gpu_bytes <= budget:
            best = k
    return best


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

    def estimate(self, n_gpu_layers: int | None = None) -> FitEstimate | None:
        if self.layout is None:
            return None
        k = self.n_gpu_layers if n_gpu_layers is None else n_gpu_layers
        return estimate(self.layout, k, self.n_ctx, self.hardware)


def plan_load(layout: ModelLayout | None, hw: Hardware, n_ctx: int, requested: int) -> LoadPlan:
    """Resolve a layers setting (a count, -1 for all, AUTO_LAYERS) against this machine."""
    auto = requested == AUTO_LAYERS
    offload = bool(hw.gpus and hw.supports_offload)
    if layout is None:
        layers = 0 if auto or not offload else requested
    elif not offload:
        layers = 0
    elif auto:
        layers = auto_layers(layout, n_ctx, hw)
    elif requested < 0:
        layers = layout.layer_count
    else:
        layers = min(requested, layout.layer_count)
    return LoadPlan(layout=layout, hardware=hw, n_ctx=n_ctx, n_gpu_layers=layers, auto=auto)


def retry_layers(plan: LoadPlan, failed_layers: int) -> int | None:
    """After an out-of-memory load: the largest setting the estimate says fits, below
    the one that failed (None when the CPU is the only option left or nothing is known)."""
    if plan.layout is None or failed_layers <= 0:
        return None
    fit = auto_layers(plan.layout, plan.n_ctx, plan.hardware)
    return min(fit, failed_layers - 1)
