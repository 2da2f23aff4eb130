"""Which GPUs the system shows (fake sysfs and /dev trees), and the hint for a CPU-only build."""

from pathlib import Path

from app.core.system_gpus import SystemGpu, from_linux, gpu_build_hint, parse_vulkaninfo


def card(root: Path, name: str, vendor: str) -> None:
    dev = root / "sys" / "class" / "drm" / name / "device"
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(vendor + "\n")


def test_drm_cards_of_gpu_vendors_count(tmp_path):
    card(tmp_path, "card0", "0x8086")
    card(tmp_path, "card1", "0x1002")
    (tmp_path / "sys" / "class" / "drm" / "card0-eDP-1").mkdir()  # a connector, not a card
    card(tmp_path, "renderD128", "0x1002")  # the render node of card1: not counted twice
    assert from_linux(tmp_path) == (SystemGpu("Intel", "/sys/class/drm/card0"),
                                    SystemGpu("AMD", "/sys/class/drm/card1"))


def test_virtual_and_management_adapters_do_not_count(tmp_path):
    card(tmp_path, "card0", "0x1af4")  # virtio-gpu
    card(tmp_path, "card1", "0x1a03")  # ASPEED server management chip
    card(tmp_path, "card2", "not hex")
    assert from_linux(tmp_path) == ()


def test_nvidia_device_nodes_without_drm(tmp_path):
    (tmp_path / "dev").mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / "dev" / name).write_text("")
    assert from_linux(tmp_path) == (SystemGpu("NVIDIA", "/dev/nvidia0"), SystemGpu("NVIDIA", "/dev/nvidia1"))
    card(tmp_path, "card0", "0x10de")  # with nvidia-drm loaded the card is listed once
    assert from_linux(tmp_path) == (SystemGpu("NVIDIA", "/sys/class/drm/card0"),)


def test_no_sysfs_no_dev_no_gpus(tmp_path):
    assert from_linux(tmp_path) == ()


SUMMARY = """\
Devices:
========
GPU0:
	apiVersion         = 1.3.277
	vendorID           = 0x10de
	deviceID           = 0x2330
	deviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
	deviceName         = NVIDIA H100 80GB HBM3
GPU1:
	apiVersion         = 1.3.230
	vendorID           = 0x10005
	deviceType         = PHYSICAL_DEVICE_TYPE_CPU
	deviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
"""


def test_vulkaninfo_summary_counts_gpus_not_cpu_implementations():
    assert parse_vulkaninfo(SUMMARY) == (SystemGpu("NVIDIA", "vulkaninfo"),)
    assert parse_vulkaninfo(SUMMARY.split("GPU1:")[0].replace("DISCRETE", "INTEGRATED").replace("10de", "8086")) \
        == (SystemGpu("Intel", "vulkaninfo"),)
    assert parse_vulkaninfo("garbage\x00" * 100) == ()


def test_hint_names_the_commands_for_the_gpus_found():
    assert gpu_build_hint(()) is None
    nvidia = gpu_build_hint((SystemGpu("NVIDIA", "/dev/nvidia0"),), "linux")
    assert "an NVIDIA GPU" in nvidia
    assert 'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python' in nvidia
    assert '-DGGML_VULKAN=on' in nvidia and "GPU offload" in nvidia
    amd = gpu_build_hint((SystemGpu("AMD", "x"), SystemGpu("AMD", "y")), "linux")
    assert "an AMD GPU" in amd and "GGML_CUDA" not in amd and "GGML_VULKAN" in amd
    assert 'set CMAKE_ARGS="-DGGML_VULKAN=on"' in gpu_build_hint((SystemGpu("Intel", "vulkaninfo"),), "win32")
