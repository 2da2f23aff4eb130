"""The GGUF layout reader and the fit estimate: per-layer bytes straight from the file,
and the estimate against GPU memory recorded on an H100 (bench/gpu_fit.py)."""

import json
from pathlib import Path

import pytest
from gguf import GGUFReader

from app.core.fit import (AUTO_LAYERS, MIB, auto_layers, estimate, estimate_for_info, plan_load,
                          retry_layers, safety_margin)
from app.core.gguf_info import ModelLayout, read_layout
from app.core.hardware import Device, Hardware

DATA = json.loads((Path(__file__).parent / "data" / "h100_phi4_fit.json").read_text())
GIB = 1024**3


def phi4_layout() -> ModelLayout:
    values = dict(DATA["layout"], block_bytes=tuple(DATA["layout"]["block_bytes"]))
    return ModelLayout(path=Path("phi4.gguf"), name="phi4", has_chat_template=True, **values)


def gpu(free: int, total: int | None = None) -> Hardware:
    dev = Device(name="CUDA0", description="Test GPU", kind="gpu", free_bytes=free, total_bytes=total or free)
    return Hardware(devices=(dev,), ram_total_bytes=64 * GIB, ram_available_bytes=48 * GIB, supports_offload=True)


CPU_ONLY = Hardware(devices=(Device("CPU", "cpu", "cpu", 8 * GIB, 8 * GIB),), ram_total_bytes=8 * GIB,
                    ram_available_bytes=6 * GIB, supports_offload=False)


def tensor_bytes(path: Path) -> dict[str, int]:
    return {t.name: int(t.n_bytes) for t in GGUFReader(path).tensors}


def test_layout_of_smollm2_matches_its_tensors(smollm2):
    layout = read_layout(smollm2)
    tensors = tensor_bytes(smollm2)
    assert (layout.architecture, layout.block_count, layout.layer_count) == ("llama", 30, 31)
    assert (layout.n_embd, layout.n_head, layout.n_head_kv, layout.head_dim_k) == (576, 9, 3, 64)
    assert layout.n_vocab == 49152 and layout.quant == "Q4_1"
    for i in range(30):
        assert layout.block_bytes[i] == sum(n for name, n in tensors.items() if name.startswith(f"blk.{i}."))
    # SmolLM2 ties its output head to the token embeddings: the output layer costs a copy.
    assert "output.weight" not in tensors
    assert layout.output_bytes == tensors["token_embd.weight"] + tensors["output_norm.weight"]
    assert sum(layout.block_bytes) + layout.input_bytes + layout.other_bytes + layout.output_bytes \
        == sum(tensors.values()) + tensors["token_embd.weight"]


def test_layout_of_a_phi3_file(tiny_phi3):
    layout = read_layout(tiny_phi3)
    tensors = tensor_bytes(tiny_phi3)
    assert layout.architecture == "phi3"
    assert layout.layer_count == layout.block_count + 1
    assert layout.output_bytes == sum(n for name, n in tensors.items() if name.startswith("output"))
    assert sum(layout.block_bytes) == sum(n for name, n in tensors.items() if name.startswith("blk."))


def test_estimate_counts_the_last_blocks_then_the_output_layer():
    layout = phi4_layout()
    hw = gpu(80 * GIB)
    for k in range(0, 41):
        est = estimate(layout, k, 4096, hw)
        assert est.gpu_weights == sum(layout.block_bytes[40 - k:]) if k else est.gpu_weights == 0
        assert est.gpu_kv == k * 4096 * 10 * 256 * 2  # 10 KV heads x (128 + 128) x f16 per block
        assert est.ram_weights + est.gpu_weights == sum(layout.block_bytes) + layout.output_bytes + layout.input_bytes
    top = estimate(layout, 41, 4096, hw)
    assert top.gpu_weights == sum(layout.block_bytes) + layout.output_bytes and top.output_on_gpu
    assert "output layer on the CPU" in estimate(layout, 40, 4096, hw).label()
    assert estimate(layout, 99, 4096, hw).n_gpu_layers == 41 == estimate(layout, -1, 4096, hw).n_gpu_layers


@pytest.mark.parametrize("row", DATA["measured"], ids=lambda r: f"{r['n_gpu_layers']}@{r['n_ctx']}")
def test_estimate_within_ten_percent_of_what_the_gpu_reported(row):
    est = estimate(phi4_layout(), row["n_gpu_layers"], row["n_ctx"], gpu(DATA["gpu"]["free_bytes"]))
    measured = row["gpu_used_mib"] * MIB
    assert abs(est.gpu_bytes - measured) <= 0.10 * measured


def test_label_reads_like_the_model_bar():
    est = estimate(phi4_layout(), 38, 4096, gpu(int(11.6e9)))
    assert est.label().startswith("38/41 layers on GPU: ") and est.label().endswith(" of 11.6 GB free")
    assert est.fits_gpu
    too_many = estimate(phi4_layout(), 41, 32768, gpu(int(11.6e9)))
    assert not too_many.fits_gpu and "does not fit" in too_many.label()


def test_auto_takes_the_most_layers_that_fit_with_a_margin():
    layout = phi4_layout()
    for free_gib in (4, 8, 11, 12, 24):
        hw = gpu(free_gib * GIB)
        k = auto_layers(layout, 8192, hw)
        budget = hw.gpu_free_bytes - safety_margin(hw.gpu_total_bytes)
        assert k == 0 or estimate(layout, k, 8192, hw).gpu_bytes <= budget
        assert k == layout.layer_count or estimate(layout, k + 1, 8192, hw).gpu_bytes > budget
    assert auto_layers(layout, 8192, gpu(24 * GIB)) == 41
    assert 0 < auto_layers(layout, 8192, gpu(8 * GIB)) < 41
    assert auto_layers(layout, 8192, CPU_ONLY) == 0


def test_plan_resolves_settings_against_the_machine():
    layout = phi4_layout()
    assert plan_load(layout, CPU_ONLY, 4096, 41).n_gpu_layers == 0  # never pretend to offload
    assert plan_load(layout, gpu(80 * GIB), 4096, -1).n_gpu_layers == 41
    auto = plan_load(layout, gpu(8 * GIB), 4096, AUTO_LAYERS)
    assert auto.auto and auto.n_gpu_layers == auto_layers(layout, 4096, gpu(8 * GIB))
    assert plan_load(None, gpu(8 * GIB), 4096, AUTO_LAYERS).n_gpu_layers == 0
    failed = plan_load(layout, gpu(8 * GIB), 4096, 41)
    assert retry_layers(failed, 41) == auto_layers(layout, 4096, gpu(8 * GIB))
    assert retry_layers(plan_load(layout, gpu(80 * GIB), 4096, 41), 41) == 40  # below what failed
    assert retry_layers(failed, 0) is None


def test_estimate_for_info_on_a_real_file(smollm2):
    info = estimate_for_info(smollm2)
    assert info["layer_count"] == 31 and info["n_ctx"] == 8192
    assert info["kv_bytes"] == 8192 * 30 * 3 * 128 * 2
    assert info["ram_bytes_cpu_only"] > Path(smollm2).stat().st_size


BACKENDS = json.loads((Path(__file__).parent / "data" / "h100_phi4_backends.json").read_text())


@pytest.mark.parametrize("row", BACKENDS["measured"], ids=lambda r: f"{r['build']}-{r['n_gpu_layers']}@{r['n_ctx']}")
def test_estimate_within_ten_percent_for_vulkan_and_cuda_on_one_gpu(row):
    """The same H100, model and settings through a Vulkan and a CUDA build: each backend's
    runtime cost is its own (Vulkan's is about a tenth of CUDA's)."""
    device = Device(name=f"{row['build']}0", description="NVIDIA H100 80GB HBM3", kind="gpu",
                    free_bytes=DATA["gpu"]["free_bytes"], total_bytes=DATA["gpu"]["free_bytes"])
    hw = Hardware(devices=(device,), ram_total_bytes=64 * GIB, ram_available_bytes=48 * GIB, supports_offload=True)
    assert hw.backend_name == row["build"]
    est = estimate(phi4_layout(), row["n_gpu_layers"], row["n_ctx"], hw)
    measured = row["gpu_used_mib"] * MIB
    assert abs(est.gpu_bytes - measured) <= 0.10 * measured


def test_the_vulkan_rows_cover_every_layers_setting_and_both_contexts():
    vulkan = {(r["n_gpu_layers"], r["n_ctx"]) for r in BACKENDS["measured"] if r["build"] == "Vulkan"}
    assert vulkan == {(k, c) for k in (0, 10, 20, 30, 40, 41) for c in (4096, 32768)}
