"""What this llama-cpp-python build can offload to, and how much memory each device has.

llama-cpp-python 0.3.36 does not bind ggml's device API, but the library it ships does
export it; a few ctypes declarations give the same list llama.cpp itself offloads to
(CUDA, Metal, Vulkan, ...), with each device's free and total memory right now.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.core.system_gpus import SystemGpu, gpu_build_hint, system_gpus

log = logging.getLogger(__name__)

# enum ggml_backend_dev_type
_DEV_CPU, _DEV_GPU, _DEV_ACCEL, _DEV_IGPU = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Device:
    name: str  # "CUDA0", "Metal", "Vulkan0", "CPU"
    description: str  # "NVIDIA H100 80GB HBM3", "Apple M3 Pro", ...
    kind: str  # "gpu", "igpu", "cpu", "accel"
    free_bytes: int
    total_bytes: int

    @property
    def backend(self) -> str:
        return self.name.rstrip("0123456789") or self.name


@dataclass(frozen=True, slots=True)
class Hardware:
    devices: tuple[Device, ...]
    ram_total_bytes: int
    ram_available_bytes: int
    supports_offload: bool
    # GPU backends compiled into this build ("CUDA", "Vulkan", ...), devices found or not.
    build_backends: tuple[str, ...] = ()
    system_gpus: tuple[SystemGpu, ...] = ()  # what the system shows, for a CPU-only build's hint

    @property
    def gpus(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind in ("gpu", "igpu"))

    @property
    def backend_name(self) -> str:
        """What the model bar shows: "CUDA", "Metal", "Vulkan" or "CPU only"."""
        gpus = self.gpus
        return gpus[0].backend if gpus and self.supports_offload else "CPU only"

    @property
    def gpu_free_bytes(self) -> int:
        # Layers go to the first GPU unless llama.cpp is told to split; the estimate
        # measures against the device the layers will actually land on.
        return self.gpus[0].free_bytes if self.gpus else 0

    @property
    def gpu_total_bytes(self) -> int:
        return self.gpus[0].total_bytes if self.gpus else 0

    @property
    def offload_unavailable_reason(self) -> str | None:
        if self.supports_offload and self.gpus:
            return None
        if self.build_backends:
            names = " or ".join(self.build_backends)
            return (f"This build of llama.cpp uses {names}, but no {names} GPU was found (no GPU, or no "
                    f"{names} driver for it), so every layer runs on the CPU.")
        if not self.supports_offload:
            if self.system_gpus:
                return (f"This build of llama.cpp runs on the CPU only, so the {self.system_gpus[0].vendor} GPU "
                        "goes unused and every layer runs on the CPU.")
            return ("This build of llama.cpp runs on the CPU only (no CUDA, Metal or Vulkan), "
                    "so every layer runs on the CPU.")
        return "No GPU was found, so every layer runs on the CPU."

    @property
    def gpu_build_hint(self) -> str | None:
        """How to get a GPU build, for a CPU-only build on a computer with a GPU it could use."""
        if self.supports_offload or self.build_backends:
            return None
        return gpu_build_hint(self.system_gpus)


def _bind(lib: ctypes.CDLL) -> None:
    p, s = ctypes.c_void_p, ctypes.c_size_t
    lib.ggml_backend_dev_count.restype = s
    lib.ggml_backend_dev_get.argtypes = [s]
    lib.ggml_backend_dev_get.restype = p
    lib.ggml_backend_dev_name.argtypes = [p]
    lib.ggml_backend_dev_name.restype = ctypes.c_char_p
    lib.ggml_backend_dev_description.argtypes = [p]
    lib.ggml_backend_dev_description.restype = ctypes.c_char_p
    lib.ggml_backend_dev_type.argtypes = [p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_memory.argtypes = [p, ctypes.POINTER(s), ctypes.POINTER(s)]
    lib.ggml_backend_dev_memory.restype = None


# ggml's GPU backend libraries and the names the app shows for them.
_BACKEND_LIBS = {"cuda": "CUDA", "vulkan": "Vulkan", "metal": "Metal", "hip": "ROCm", "sycl": "SYCL",
                 "opencl": "OpenCL", "musa": "MUSA", "cann": "CANN"}


def build_backends(lib_dir: Path) -> tuple[str, ...]:
    """The GPU backends this build was compiled with, from its libraries (libggml-vulkan.so,
    ggml-cuda.dll, ...): they are there whether or not a device or driver is."""
    found = []
    try:
        names = [p.name.lower() for p in itertools.islice(lib_dir.iterdir(), 1000)]
    except OSError:
        return ()
    for key, label in _BACKEND_LIBS.items():
        if any(re.match(rf"(lib)?ggml-{key}[.\-]", n) for n in names) and label not in found:
            found.append(label)
    return tuple(found)


def _lib_dir() -> Path:
    from llama_cpp import _ggml

    return Path(_ggml.__file__).parent / "lib"


def _libggml() -> ctypes.CDLL:
    """The ggml instance libllama itself uses.

    pip's wheel carries libggml.so and libggml.so.0 as two separate files; libllama
    links the versioned name, so opening that one returns the already-loaded copy
    (with its registered backends) instead of a second instance.
    """
    from llama_cpp import _ggml

    lib_dir = _lib_dir()
    for name in ("libggml.so.0", "libggml.0.dylib"):
        if (lib_dir / name).exists():
            return ctypes.CDLL(str(lib_dir / name))
    return _ggml.libggml


def _ggml_devices() -> list[Device]:
    from app.core.llama_runtime import ensure_initialised

    ensure_initialised()  # registers the backends (and loads dynamic ones)
    lib = _libggml()
    _bind(lib)
    kinds = {_DEV_CPU: "cpu", _DEV_GPU: "gpu", _DEV_ACCEL: "accel", _DEV_IGPU: "igpu"}
    devices = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(Device(
            name=(lib.ggml_backend_dev_name(dev) or b"?").decode(errors="replace"),
            description=(lib.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
            kind=kinds.get(lib.ggml_backend_dev_type(dev), "accel"),
            free_bytes=free.value,
            total_bytes=total.value,
        ))
    return devices


def system_ram() -> tuple[int, int]:
    """(total, available) physical memory in bytes; (0, 0) when it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh if line.strip()}
        return info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError, IndexError):
        pass
    try:  # macOS and other POSIX systems
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
        try:
            avail = page * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError):
            avail = total // 2
        return total, avail
    except (ValueError, OSError, AttributeError):
        return 0, 0


def detect() -> Hardware:
    """The devices and memory now. Never raises: a failure reads as CPU only."""
    import llama_cpp

    try:
        devices = tuple(_ggml_devices())
    except Exception:  # an old or unusual build: say CPU only rather than fail to start
        log.exception("could not list ggml devices")
        devices = ()
    total, avail = system_ram()
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    try:
        backends = build_backends(_lib_dir())
    except Exception:  # an unusual install layout: only the hint's wording depends on it
        log.exception("could not list llama.cpp's backend libraries")
        backends = ()
    return Hardware(devices=devices, ram_total_bytes=total, ram_available_bytes=avail, supports_offload=offload,
                    build_backends=backends,
                    system_gpus=() if offload or backends else system_gpus())
