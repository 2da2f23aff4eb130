"""Backend detection on this machine's llama-cpp-python build."""

import llama_cpp

from app.core.hardware import Device, Hardware, detect, system_ram
from app.core.system_gpus import SystemGpu


def test_detect_lists_the_cpu_and_agrees_with_the_build():
    hw = detect()
    assert any(d.kind == "cpu" for d in hw.devices)
    assert hw.supports_offload == bool(llama_cpp.llama_supports_gpu_offload())
    if not hw.supports_offload:
        assert hw.backend_name == "CPU only"
        assert "CPU" in hw.offload_unavailable_reason
        assert hw.gpu_free_bytes == 0
    else:
        assert hw.gpus and hw.backend_name == hw.gpus[0].backend
        assert 0 < hw.gpus[0].free_bytes <= hw.gpus[0].total_bytes


def test_system_ram_is_read():
    total, available = system_ram()
    assert total > 0 and 0 < available <= total


def test_build_backends_from_the_libraries_a_build_ships(tmp_path):
    from app.core.hardware import build_backends

    assert build_backends(tmp_path / "missing") == ()
    for name in ("libggml.so.0", "libggml-cpu.so", "libggml-base.so.0.25.3", "libllama.so"):
        (tmp_path / name).write_text("")
    assert build_backends(tmp_path) == ()
    (tmp_path / "libggml-vulkan.so.0").write_text("")
    assert build_backends(tmp_path) == ("Vulkan",)
    (tmp_path / "ggml-cuda.dll").write_text("")
    assert build_backends(tmp_path) == ("CUDA", "Vulkan")


def test_detect_names_this_builds_gpu_backends():
    from pathlib import Path

    from llama_cpp import _ggml

    libs = [p.name for p in (Path(_ggml.__file__).parent / "lib").iterdir()]
    hw = detect()
    assert ("Vulkan" in hw.build_backends) == any("ggml-vulkan" in n for n in libs)
    assert ("CUDA" in hw.build_backends) == any("ggml-cuda" in n for n in libs)


CPU = Device("CPU", "cpu", "cpu", 8 << 30, 8 << 30)
NVIDIA = SystemGpu("NVIDIA", "/dev/nvidia0")


def hardware(**kw) -> Hardware:
    return Hardware(**{"devices": (CPU,), "ram_total_bytes": 8 << 30, "ram_available_bytes": 6 << 30,
                       "supports_offload": False, **kw})


def test_a_cpu_only_build_on_a_computer_with_a_gpu_says_how_to_get_a_gpu_build():
    hw = hardware(system_gpus=(NVIDIA,))
    assert hw.backend_name == "CPU only"
    assert "NVIDIA GPU goes unused" in hw.offload_unavailable_reason
    assert "-DGGML_CUDA=on" in hw.gpu_build_hint and "-DGGML_VULKAN=on" in hw.gpu_build_hint
    assert hardware().gpu_build_hint is None  # no GPU: nothing to get


def test_a_gpu_build_gives_no_hint_with_or_without_a_device():
    gpu = Device("Vulkan0", "AMD Radeon RX 7600", "gpu", 7 << 30, 8 << 30)
    with_device = hardware(devices=(gpu, CPU), supports_offload=True, build_backends=("Vulkan",))
    assert with_device.gpu_build_hint is None and with_device.offload_unavailable_reason is None
    assert with_device.backend_name == "Vulkan"
    # A Vulkan build where no Vulkan driver or device exists: the CPU, and the reason says so.
    no_device = hardware(build_backends=("Vulkan",), system_gpus=(NVIDIA,))
    assert no_device.gpu_build_hint is None and no_device.backend_name == "CPU only"
    assert no_device.offload_unavailable_reason.startswith("This build of llama.cpp uses Vulkan, but no Vulkan GPU")
