"""The macOS and Windows scripts cannot run here: check what can be checked on Linux."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import APP_ID, APP_NAME

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", ["linux/build.sh", "linux/install.sh", "macos/build.sh"])
def test_shell_scripts_parse(script):
    proc = subprocess.run(["bash", "-n", str(INSTALLER / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_icons_for_windows_and_macos(tmp_path):
    from PIL import Image

    subprocess.run([sys.executable, str(INSTALLER / "make_icons.py"), str(tmp_path)], check=True, capture_output=True,
                   timeout=120)
    with Image.open(tmp_path / "ponder.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= ico.info["sizes"]
    with Image.open(tmp_path / "ponder.icns") as icns:
        assert icns.format == "ICNS" and icns.size == (1024, 1024)
        assert len(icns.getcolors(maxcolors=1 << 20)) > 16  # drawn, not an empty square


def test_names_agree_across_platforms():
    iss = (INSTALLER / "windows" / "ponder.iss").read_text(encoding="utf-8")
    spec = (INSTALLER / "ponder.spec").read_text(encoding="utf-8")
    assert "name=APP_ID" in spec and "name=APP_NAME" in spec  # ponder(.exe) inside Ponder/
    assert f"{{app}}\\{APP_ID}.exe" in iss and f"dist\\{APP_NAME}\\*" in iss  # what the spec builds
    assert '"{autoprograms}\\Ponder"' in iss  # the Start-menu shortcut
    entitlements = plistlib.loads((INSTALLER / "macos" / "entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.cs.allow-unsigned-executable-memory"] is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux build script")
def test_linux_build_refuses_a_cpu_only_llama_cpp_unless_asked(tmp_path):
    import llama_cpp

    if any(p.name.startswith("libggml-vulkan") for p in (Path(llama_cpp.__file__).parent / "lib").iterdir()):
        pytest.skip("this environment's llama.cpp has Vulkan")
    env = {**os.environ, "PYTHON": sys.executable, "DIST_DIR": str(tmp_path / "dist"), "WORK_DIR": str(tmp_path)}
    proc = subprocess.run(["bash", str(INSTALLER / "linux" / "build.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "has no Vulkan" in proc.stderr and "CPU_ONLY=1" in proc.stderr
    assert not (tmp_path / "dist").exists()
