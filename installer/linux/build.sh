#!/usr/bin/env bash
# Linux: dist/Ponder/ (run dist/Ponder/ponder) and dist/Ponder-<version>-linux-<arch>.tar.gz,
# which unpacks to Ponder/ with install.sh (menu entry, icon and a `ponder` command).
#   installer/linux/build.sh
# Its llama.cpp is built with Vulkan, so one download offloads layers to NVIDIA, AMD and Intel
# GPUs, and runs on the CPU (saying why) where no Vulkan driver or device exists; the Vulkan
# loader (libvulkan.so.1) travels in the bundle, the drivers are the system's. The first run
# makes .venv-linux and compiles llama-cpp-python there (tens of minutes), which needs cmake, a
# C++ compiler, glslc, spirv-headers and Vulkan headers 1.3.261 or newer (Debian 13 or Ubuntu
# 24.04: `apt install cmake g++ glslc spirv-headers libvulkan-dev`; on Debian 12 its libvulkan-dev
# is too old: point VULKAN_CMAKE_ARGS at newer headers, e.g.
# "-DVulkan_INCLUDE_DIR=/opt/vk/usr/include -DSPIRV-Headers_DIR=/opt/vk/usr/share/cmake/SPIRV-Headers").
# PYTHON uses another interpreter that has the app, PyInstaller and a Vulkan llama-cpp-python
# already; CPU_ONLY=1 lets it be a CPU-only one. DIST_DIR and WORK_DIR move the output
# (default dist/, build/). No AppImage: appimagetool is in no distribution's packages, and the
# build must work offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PYTHON:-}" ]; then
    venv=${VENV:-.venv-linux}
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        # --no-cache-dir keeps pip from reusing a CPU-only wheel; GGML_NATIVE=off compiles the
        # CPU code for any x86-64 with AVX2, not only for this machine's processor.
        CMAKE_ARGS="-DGGML_VULKAN=on -DGGML_NATIVE=off ${VULKAN_CMAKE_ARGS:-}" \
            "$venv/bin/pip" install --no-cache-dir --no-binary llama-cpp-python . pyinstaller
    fi
    PYTHON="$venv/bin/python"
fi
python=$PYTHON
backends=$("$python" -c 'import pathlib, llama_cpp
from app.core.hardware import build_backends
print(" ".join(build_backends(pathlib.Path(llama_cpp.__file__).parent / "lib")))')
case " $backends " in
    *" Vulkan "*) ;;
    *) if [ "${CPU_ONLY:-}" != 1 ]; then
           echo "error: $python's llama-cpp-python has no Vulkan (backends: ${backends:-none}); build it with" \
                "CMAKE_ARGS=-DGGML_VULKAN=on, or set CPU_ONLY=1 for a bundle that runs on the CPU only" >&2
           exit 1
       fi ;;
esac
dist=${DIST_DIR:-dist}
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" \
    --workpath "${WORK_DIR:-build}/pyinstaller" installer/ponder.spec
cp installer/linux/install.sh installer/linux/ponder.desktop resources/icons/ponder.svg "$dist/Ponder/"
version=$("$python" -c 'import app; print(app.__version__)')
archive="$dist/Ponder-$version-linux-$(uname -m).tar.gz"
tar -C "$dist" -czf "$archive" Ponder
echo "$archive"
