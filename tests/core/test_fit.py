"""The GGUF layout reader and the fit estimate: per-layer bytes straight from the file,
and the estimate against GPU memory recorded on an H100 (bench/gpu_fit.py)."""

import json
from pathlib import Path

import pytest
from gguf import GGUFReader

from app.core.fit import (AUTO_LAYERS, MIB, auto_layers, estimate, estimate_for_info, micro_batch, plan_load,
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


def test_micro_batch_is_512_without_gpu_offload():
    import dataclasses

    layout = phi4_layout()
    gpu_build_without_device = dataclasses.replace(CPU_ONLY, build_backends=("Vulkan",))
    for hw in (CPU_ONLY, gpu_build_without_device):
        assert micro_batch(layout, 0, 32768, hw) == 512
        assert plan_load(layout, hw, 32768, AUTO_LAYERS).n_batch == 512
        assert plan_load(layout, hw, 32768, 41).n_batch == 512
    assert micro_batch(layout, 0, 256, CPU_ONLY) == 256  # never longer than the context


def test_micro_batch_with_offload_is_the_largest_that_fits_at_any_layers():
    layout = phi4_layout()
    roomy = gpu(80 * GIB)
    for layers in (0, 10, 20, 41):  # with no layers, big prompt batches still run on the GPU
        assert micro_batch(layout, layers, 4096, roomy) == 2048
    assert micro_batch(layout, 41, 1500, roomy) == 1024  # never longer than the context
    assert micro_batch(layout, 41, 600, roomy) == 512
    assert micro_batch(None, -1, 4096, roomy) == 512  # the layout could not be read: the size measured


@pytest.mark.parametrize("layers", [0, 20, 41])
def test_micro_batch_grows_only_into_memory_left_over(layers):
    layout = phi4_layout()
    total = 80 * GIB
    need = {n: estimate(layout, layers, 8192, gpu(total), n_ubatch=n).gpu_bytes for n in (512, 1024, 2048)}
    assert need[512] < need[1024] < need[2048]  # logits and attention work per token of the micro-batch
    for n, expected in ((2048, 2048), (1024, 1024), (512, 512)):
        exact = gpu(need[n] + safety_margin(total), total)  # the budget Auto layers use, to the byte
        assert micro_batch(layout, layers, 8192, exact) == expected
        assert micro_batch(layout, layers, 8192, gpu(need[n] + safety_margin(total) - 1, total)) \
            == {2048: 1024, 1024: 512, 512: 512}[n]


def test_auto_layers_come_first_then_the_micro_batch():
    layout = phi4_layout()
    for free_gib in (6, 8, 11, 14, 24):
        hw = gpu(free_gib * GIB)
        plan = plan_load(layout, hw, 8192, AUTO_LAYERS, "f16")
        assert plan.n_gpu_layers == auto_layers(layout, 8192, hw, n_ubatch=512)
        budget = hw.gpu_free_bytes - safety_margin(hw.gpu_total_bytes)
        assert plan.estimate().gpu_bytes <= budget and plan.estimate().n_ubatch == plan.n_batch
        bigger = {512: 1024, 1024: 2048}.get(plan.n_batch)
        if bigger:
            assert estimate(layout, plan.n_gpu_layers, 8192, hw, n_ubatch=bigger).gpu_bytes > budget
    assert plan_load(layout, gpu(24 * GIB), 8192, AUTO_LAYERS).n_batch == 2048


def test_a_q8_0_cache_costs_34_bytes_per_32_values():
    layout = phi4_layout()
    hw = gpu(80 * GIB)
    for k in (0, 10, 41):
        q8 = estimate(layout, k, 4096, hw, kv_type="q8_0")
        assert q8.gpu_kv == int(4096 * 10 * 256 * 34 / 32) * min(k, 40)
        assert q8.ram_kv == int(4096 * 10 * 256 * 34 / 32) * (40 - min(k, 40))
        f16 = estimate(layout, k, 4096, hw)
        assert q8.gpu_weights == f16.gpu_weights and q8.gpu_kv + q8.ram_kv < (f16.gpu_kv + f16.ram_kv) * 0.54
    plan = plan_load(layout, hw, 4096, 30, "q8_0")
    assert (plan.kv_cache_type, plan.kv_auto_q8) == ("q8_0", False)
    assert plan.estimate() == estimate(layout, 30, 4096, hw, n_ubatch=plan.n_batch, kv_type="q8_0")
    assert "context cache at q8_0" in plan.estimate().label()
    assert auto_layers(layout, 32768, gpu(12 * GIB), "q8_0") > auto_layers(layout, 32768, gpu(12 * GIB))


def test_auto_cache_is_q8_0_only_when_that_is_what_lets_every_layer_fit():
    layout = phi4_layout()
    tight = gpu(12 * GIB)  # at 16k: 39 layers with an f16 cache, all 41 with q8_0
    assert auto_layers(layout, 16384, tight) < 41 == auto_layers(layout, 16384, tight, "q8_0")
    plan = plan_load(layout, tight, 16384, AUTO_LAYERS)
    assert (plan.n_gpu_layers, plan.kv_cache_type, plan.kv_auto_q8) == (41, "q8_0", True)
    assert plan.estimate().kv_type == "q8_0"
    assert plan.estimate().label(auto_q8=True).endswith("; context cache at q8_0 so every layer fits")
    # f16 asked for: kept, fewer layers
    f16 = plan_load(layout, tight, 16384, AUTO_LAYERS, "f16")
    assert (f16.n_gpu_layers, f16.kv_cache_type, f16.kv_auto_q8) == (auto_layers(layout, 16384, tight), "f16", False)
    # a layers count keeps f16, even where q8_0 would let it fit
    assert plan_load(layout, tight, 16384, 41).kv_cache_type == "f16"
    assert plan.replan(41).kv_cache_type == "f16" and plan.replan(AUTO_LAYERS) == plan
    # every layer fits at f16: nothing to gain
    assert plan_load(layout, gpu(24 * GIB), 16384, AUTO_LAYERS).kv_cache_type == "f16"
    # not every layer fits even at q8_0: a few more layers are not worth the slower cache
    small = gpu(8 * GIB)
    assert auto_layers(layout, 16384, small, "q8_0") < 41
    assert plan_load(layout, small, 16384, AUTO_LAYERS).kv_cache_type == "f16"
    assert plan_load(layout, CPU_ONLY, 16384, AUTO_LAYERS).kv_cache_type == "f16"
    assert plan_load(None, tight, 16384, AUTO_LAYERS).kv_cache_type == "f16"


def test_retry_uses_the_cache_a_layers_count_loads_with():
    layout = phi4_layout()
    tight = gpu(12 * GIB)
    auto_q8 = plan_load(layout, tight, 16384, AUTO_LAYERS)
    assert auto_q8.kv_auto_q8
    # the retry is a count, so an "auto" cache goes back to f16 and the count must fit at f16
    assert retry_layers(auto_q8, 41) == auto_layers(layout, 16384, tight)
    asked_q8 = plan_load(layout, tight, 16384, 41, "q8_0")
    assert retry_layers(asked_q8, 41) == 40  # at q8_0 all would fit: below what failed
    assert retry_layers(plan_load(layout, tight, 32768, 41, "q8_0"), 41) == auto_layers(layout, 32768, tight, "q8_0")


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


UBATCH_2048 = json.loads((Path(__file__).parent / "data" / "h100_phi4_fit_ubatch2048.json").read_text())


@pytest.mark.parametrize("row", UBATCH_2048["measured"], ids=lambda r: f"{r['n_gpu_layers']}@{r['n_ctx']}/{r['n_ubatch']}")
def test_estimate_at_the_chosen_micro_batch_within_ten_percent(row):
    hw = gpu(UBATCH_2048["gpu"]["free_bytes"], UBATCH_2048["gpu"]["total_bytes"])
    assert micro_batch(phi4_layout(), row["n_gpu_layers"], row["n_ctx"], hw) == row["n_ubatch"]
    est = estimate(phi4_layout(), row["n_gpu_layers"], row["n_ctx"], hw, n_ubatch=row["n_ubatch"],
                   kv_type=row["kv_cache_type"])
    measured = row["gpu_used_mib"] * MIB
    assert abs(est.gpu_bytes - measured) <= 0.10 * measured
