"""GPUs this computer has, whatever the llama.cpp build in use can do with them.

A CPU-only build of llama-cpp-python cannot list GPUs, so this looks at what the system
itself shows: on Linux the display devices under /sys/class/drm (their PCI vendor) and
NVIDIA's device nodes; elsewhere `nvidia-smi -L` and `vulkaninfo --summary` where they are
installed, each with a short time limit. Only vendors whose GPUs llama.cpp can use
(through CUDA or Vulkan) count: a virtual machine's display adapter or a server's
management chip does not.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# PCI vendor ids of GPUs with Vulkan drivers (and CUDA for NVIDIA).
VENDORS = {0x10DE: "NVIDIA", 0x1002: "AMD", 0x8086: "Intel"}
TOOL_TIMEOUT_S = 3.0
MAX_CARDS = 64  # a bound on what is read, whatever the folder holds
MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True, slots=True)
class SystemGpu:
    vendor: str  # "NVIDIA", "AMD", "Intel"
    seen_at: str  # where it was found: "/sys/class/drm/card0", "/dev/nvidia0", "nvidia-smi", "vulkaninfo"


def _read_small(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(64).decode("ascii", errors="replace").strip()
    except OSError:
        return ""


def from_linux(root: Path = Path("/")) -> tuple[SystemGpu, ...]:
    """GPUs seen in sysfs and /dev under `root` (a fake tree in tests)."""
    found: list[SystemGpu] = []
    drm = root / "sys" / "class" / "drm"
    try:
        cards = sorted(p for p in drm.iterdir() if re.fullmatch(r"card\d+", p.name))[:MAX_CARDS]
    except OSError:
        cards = []
    for card in cards:
        try:
            vendor = VENDORS.get(int(_read_small(card / "device" / "vendor"), 16))
        except ValueError:
            continue
        if vendor:
            found.append(SystemGpu(vendor, f"/sys/class/drm/{card.name}"))
    if not any(g.vendor == "NVIDIA" for g in found):
        # NVIDIA's driver without its DRM module (common on compute machines) shows only these.
        try:
            nodes = sorted(p.name for p in (root / "dev").iterdir() if re.fullmatch(r"nvidia\d+", p.name))
        except OSError:
            nodes = []
        found += [SystemGpu("NVIDIA", f"/dev/{n}") for n in nodes[:MAX_CARDS]]
    return tuple(found)


def _run(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout[:MAX_OUTPUT].decode("utf-8", errors="replace") if proc.returncode == 0 else ""


def parse_vulkaninfo(text: str) -> tuple[SystemGpu, ...]:
    """Real GPUs in `vulkaninfo --summary` (not CPU implementations such as lavapipe)."""
    found = []
    for block in re.split(r"\n(?=GPU\d+:)", text)[:MAX_CARDS]:
        kind = re.search(r"deviceType\s*=\s*PHYSICAL_DEVICE_TYPE_(\w+)", block)
        vendor = re.search(r"vendorID\s*=\s*0x([0-9a-fA-F]+)", block)
        if kind and vendor and kind.group(1) in ("DISCRETE_GPU", "INTEGRATED_GPU"):
            name = VENDORS.get(int(vendor.group(1), 16))
            if name:
                found.append(SystemGpu(name, "vulkaninfo"))
    return tuple(found)


def from_tools() -> tuple[SystemGpu, ...]:
    """Windows and other systems without sysfs: NVIDIA's tool, then Vulkan's, if installed."""
    if shutil.which("nvidia-smi"):
        listed = [ln for ln in _run(["nvidia-smi", "-L"]).splitlines() if ln.startswith("GPU ")]
        if listed:
            return tuple(SystemGpu("NVIDIA", "nvidia-smi") for _ in listed[:MAX_CARDS])
    if shutil.which("vulkaninfo"):
        return parse_vulkaninfo(_run(["vulkaninfo", "--summary"]))
    return ()


@functools.cache
def system_gpus() -> tuple[SystemGpu, ...]:
    """This computer's GPUs, looked for once per process (they do not come and go)."""
    if sys.platform == "darwin":
        return ()  # Apple's GPUs go through Metal, which pip's build for macOS has already
    if sys.platform.startswith("linux"):
        return from_linux()
    return from_tools()


def gpu_build_hint(gpus: tuple[SystemGpu, ...], platform: str = sys.platform) -> str | None:
    """How to get a llama-cpp-python build that uses these GPUs; None when there are none."""
    if not gpus:
        return None
    vendors = list(dict.fromkeys(g.vendor for g in gpus))
    what = " and ".join(vendors)
    reinstall = "pip install --force-reinstall --no-cache-dir llama-cpp-python"
    setenv = "set CMAKE_ARGS=" if platform.startswith("win") else "CMAKE_ARGS="
    vulkan = f'{setenv}"-DGGML_VULKAN=on" {reinstall}'
    lines = [f"This computer has an {what} GPU, but this build of llama.cpp runs on the CPU only."]
    if "NVIDIA" in vendors:
        lines.append(f'For NVIDIA, with the CUDA toolkit installed: {setenv}"-DGGML_CUDA=on" {reinstall}')
    lines.append(f"For any GPU, with Vulkan's headers and glslc installed: {vulkan}")
    lines.append("The README's \"GPU offload\" section says which packages each system needs.")
    return "\n".join(lines)
