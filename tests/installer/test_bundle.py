"""The Linux bundle as people get it: built by installer/linux/build.sh from a clean copy of the
checkout, started from its own folder with a real model, again with the network off, and
installed from its tar.gz into a throwaway home."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.platform_check import BUNDLED, can_load, missing_libraries, xcb_plugin

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux bundle")

# The xcb libraries this machine lacks, so the bundle built here lacks them too.
XCB_MISSING = [lib.soname for lib in missing_libraries(xcb_plugin())] if sys.platform.startswith("linux") else []
XVFB = bool(shutil.which("xvfb-run") and shutil.which("xauth"))
# Under Xvfb the bundle uses the xcb plugin a desktop uses; without it, Qt's offscreen one.
DISPLAY = "xvfb" if XVFB and not XCB_MISSING else "offscreen"
NO_NETWORK = sys.platform.startswith("linux") and shutil.which("unshare") is not None and subprocess.run(
    ["unshare", "-n", "true"], capture_output=True).returncode == 0


# The interpreter whose llama-cpp-python the bundle takes: a Vulkan build (as released) where
# PONDER_BUNDLE_PYTHON names one, else this one's.
BUNDLE_PYTHON = os.environ.get("PONDER_BUNDLE_PYTHON", sys.executable)
VULKAN_BUILD = subprocess.run(
    [BUNDLE_PYTHON, "-c", "import llama_cpp, pathlib; p = pathlib.Path(llama_cpp.__file__).parent / 'lib'; "
                          "print(any(f.name.startswith('libggml-vulkan') for f in p.iterdir()))"],
    capture_output=True, text=True).stdout.strip() == "True"
# Mesa's lavapipe: Vulkan on the CPU, a real Vulkan device for llama.cpp where no GPU is.
LAVAPIPE = next(iter(sorted(Path("/usr/share/vulkan/icd.d").glob("lvp_icd*.json"))), None) \
    if Path("/usr/share/vulkan/icd.d").is_dir() else None


def clean_copy(dest: Path) -> None:
    """The files git knows (tracked, or new and not ignored): no build/, dist/, .venv or caches."""
    if not (ROOT / ".git").exists():  # an unpacked source archive: it is clean already
        shutil.copytree(ROOT, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("build", "dist", ".venv*", "__pycache__"))
        return
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the folder bundle, the tar.gz), built once for this module."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("out")
    clean_copy(src)
    env = {**os.environ, "PYTHON": BUNDLE_PYTHON, "DIST_DIR": str(out / "dist"), "WORK_DIR": str(out / "build")}
    if not VULKAN_BUILD:
        env["CPU_ONLY"] = "1"  # this environment's llama.cpp is CPU-only: the bundle says so
    proc = subprocess.run(["bash", "installer/linux/build.sh"], cwd=src, env=env, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return out / "dist" / "Ponder", Path(proc.stdout.strip().splitlines()[-1])


def launch(bundle: Path, args: list[str], home: Path, display: str, extra_env=None, prefix=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_"))}
    env.update(PONDER_HOME=str(home), QT_QPA_PLATFORM="xcb" if display == "xvfb" else "offscreen", **(extra_env or {}))
    xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24"] if display == "xvfb" else []
    return subprocess.run([*prefix, *xvfb, str(bundle / "ponder"), *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("display", [DISPLAY])
def test_bundle_passes_the_self_test_and_shows_the_window(built, smollm2, tmp_path, display, qtbot):
    from PIL import Image

    from app.ui.main_window import MainWindow

    shot = tmp_path / "window.png"
    proc = launch(built[0], ["--self-test", "--model", str(smollm2), "--screenshot", str(shot)], tmp_path / "home",
                  display)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    window = MainWindow()  # its default size: what a fresh start opens at
    qtbot.addWidget(window)
    image = Image.open(shot).convert("RGB")
    assert image.size == (window.width(), window.height())
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) >= 16 and max(n for n, _ in colours) < 0.95 * image.width * image.height  # not blank
    assert "starting" in (tmp_path / "home" / "log" / "ponder.log").read_text(encoding="utf-8")


@pytest.mark.skipif(not (XVFB and XCB_MISSING), reason="this machine has every library Qt's xcb plugin needs")
def test_bundle_names_the_xcb_libraries_it_and_the_system_lack(built, tmp_path):
    proc = launch(built[0], [], tmp_path / "home", "xvfb")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # not Qt's abort
    assert all(soname in proc.stderr for soname in XCB_MISSING) and "sudo apt install" in proc.stderr


@pytest.mark.parametrize("network", ["no-network" if NO_NETWORK else "hf-offline-only"])
def test_bundle_runs_offline(built, smollm2, tmp_path, network):
    prefix = ["unshare", "-n"] if network == "no-network" else []
    proc = launch(built[0], ["--self-test", "--model", str(smollm2)], tmp_path / "home", "offscreen",
                  {"HF_HUB_OFFLINE": "1"}, prefix)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout


def test_bundle_holds_what_the_app_needs_and_not_more(built):
    internal = built[0] / "_internal"
    libs = internal / "llama_cpp" / "lib"
    assert (libs / "libllama.so").exists() and (libs / "libggml.so").exists()
    files = [p for p in libs.iterdir() if p.is_file() and not p.is_symlink()]
    assert len({hashlib.sha256(p.read_bytes()).digest() for p in files}) == len(files)  # one copy each
    qt = {p.name.split(".")[0] for p in (internal / "PySide6").glob("Qt*.so")}
    assert qt == {"QtCore", "QtGui", "QtWidgets", "QtSvg"}
    assert (internal / "PySide6/Qt/plugins/iconengines/libqsvgicon.so").exists()  # draws the SVG app icon
    # the xcb libraries desktops often lack, wherever the build machine had them
    assert [s for s in BUNDLED if can_load(s) and not (internal / s).exists()] == []
    assert not list(internal.rglob("_tkinter*")) and not (internal / "tcl").exists()
    fonts = internal / "matplotlib" / "mpl-data" / "fonts" / "ttf"
    assert (fonts / "cmr10.ttf").exists() and (fonts / "DejaVuSans.ttf").exists()  # mathtext
    assert (internal / "app" / "resources" / "icons" / "ponder.svg").exists()
    assert list(internal.glob("llama_cpp_python-*.dist-info"))  # the About box reads licences from these
    assert not [p for p in built[0].rglob("*") if p.is_symlink() and not p.exists()]  # no dangling links


def test_archive_installs_a_menu_entry_and_uninstalls(built, tmp_path):
    (tmp_path / "unpacked").mkdir()
    subprocess.run(["tar", "-xzf", str(built[1]), "-C", str(tmp_path / "unpacked")], check=True, timeout=300)
    home = tmp_path / "home"
    chats = home / ".local" / "share" / "ponder" / "chat.db"  # the app's own data folder must survive
    chats.parent.mkdir(parents=True)
    chats.write_text("kept")
    env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"} | {"HOME": str(home)}
    script = tmp_path / "unpacked" / "Ponder" / "install.sh"
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=300)
    entry = (home / ".local/share/applications/ponder.desktop").read_text()
    exe = home / ".local" / "lib" / "ponder" / "ponder"
    assert f'Exec="{exe}" %F' in entry and "Icon=ponder" in entry and os.access(exe, os.X_OK)
    assert (home / ".local/share/icons/hicolor/scalable/apps/ponder.svg").exists()
    assert (home / ".local/bin/ponder").resolve() == exe
    subprocess.run(["sh", str(script), "--uninstall"], env=env, check=True, capture_output=True, timeout=300)
    assert not exe.exists() and not (home / ".local/share/applications/ponder.desktop").exists()
    assert not (home / ".local/bin/ponder").is_symlink() and chats.read_text() == "kept"


@pytest.mark.skipif(not (VULKAN_BUILD and LAVAPIPE), reason="needs a Vulkan build (PONDER_BUNDLE_PYTHON) and lavapipe")
def test_vulkan_bundle_puts_the_layers_on_a_vulkan_device(built, smollm2, tmp_path):
    """lavapipe is a CPU device to Vulkan, which llama.cpp skips unless asked for by number."""
    assert list((built[0] / "_internal").rglob("libvulkan.so.1"))  # the loader travels; drivers are the system's
    proc = launch(built[0], ["--self-test", "--model", str(smollm2)], tmp_path / "home", "offscreen",
                  {"VK_DRIVER_FILES": str(LAVAPIPE), "GGML_VK_VISIBLE_DEVICES": "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "layers: 31/31 on Vulkan0 (llvmpipe" in proc.stdout, proc.stdout


@pytest.mark.skipif(not VULKAN_BUILD, reason="needs a Vulkan build (PONDER_BUNDLE_PYTHON)")
def test_vulkan_bundle_without_a_vulkan_device_runs_on_the_cpu_and_says_why(built, smollm2, tmp_path):
    proc = launch(built[0], ["--self-test", "--model", str(smollm2)], tmp_path / "home", "offscreen",
                  {"VK_DRIVER_FILES": str(tmp_path / "no-driver.json"), "VK_ICD_FILENAMES": str(tmp_path / "none.json")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "layers: all on the CPU (This build of llama.cpp uses Vulkan, but no Vulkan GPU was found" in proc.stdout
