"""Before Qt starts on X11, every library its xcb plugin lacks is named in one line, with the
commands that install them, instead of Qt aborting the process over the first one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import platform_check
from app.platform_check import BUNDLED, LIBRARIES, can_load, check_xcb, install_hint, missing_libraries, will_use_xcb

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path("/qt/plugins/platforms/libqxcb.so")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")


def loader(missing: set[str], plugin_loads: bool = False):
    """A loader that fails for these sonames (and for the plugin unless told), recording each call."""
    calls = []

    def load(name: str) -> bool:
        calls.append(name)
        if name == str(PLUGIN):
            return plugin_loads
        return name not in missing

    load.calls = calls
    return load


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb:nograb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, False),  # no display: Qt says so itself
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, False),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-0"}, True),
])
def test_the_check_runs_only_where_qt_will_use_xcb(env, expected):
    assert will_use_xcb(env, "linux") is expected


def test_no_check_off_linux():
    assert will_use_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "darwin") is False


def test_a_plugin_that_loads_is_the_whole_check():
    load = loader(set(), plugin_loads=True)
    assert missing_libraries(PLUGIN, load) == []
    assert load.calls == [str(PLUGIN)]  # one dlopen of a file Qt opens a moment later anyway


def test_every_missing_library_is_named_not_only_the_first():
    load = loader({"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"})
    names = [lib.soname for lib in missing_libraries(PLUGIN, load)]
    assert names == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"]


def test_a_plugin_failing_for_another_reason_leaves_qt_to_say_why():
    assert missing_libraries(PLUGIN, loader(set())) == []
    assert missing_libraries(None, loader({"libxcb-cursor.so.0"})) == []  # no plugin file found: nothing to say


def test_the_message_is_one_line_with_both_install_commands():
    missing = [lib for lib in LIBRARIES if lib.soname in {"libxcb-cursor.so.0", "libxcb-shape.so.0",
                                                          "libxcb-randr.so.0", "libglib-2.0.so.0",
                                                          "libgthread-2.0.so.0"}]
    text = install_hint(missing)
    assert "\n" not in text
    assert "libxcb-cursor.so.0, libxcb-randr.so.0, libxcb-shape.so.0, libglib-2.0.so.0, libgthread-2.0.so.0" in text
    # one package may hold several libraries: each is named once
    assert "`sudo apt install libxcb-cursor0 libxcb-randr0 libxcb-shape0 libglib2.0-0`" in text
    assert "`sudo dnf install xcb-util-cursor libxcb glib2`" in text


def test_check_names_what_the_loader_cannot_open():
    env = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}
    text = check_xcb(env, loader({"libxcb-cursor.so.0", "libEGL.so.1"}), lambda: PLUGIN)
    assert text is not None and "libxcb-cursor.so.0, libEGL.so.1" in text
    assert "libxcb-cursor0 libegl1" in text and "xcb-util-cursor libglvnd-egl" in text


def test_check_loads_nothing_when_qt_will_not_use_xcb():
    load = loader({"libxcb-cursor.so.0"})
    assert check_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, load, lambda: PLUGIN) is None
    assert load.calls == []


def test_the_bundle_list_is_part_of_the_table():
    assert set(BUNDLED) <= {lib.soname for lib in LIBRARIES}


@linux_only
def test_the_real_plugin_and_loader():
    plugin = platform_check.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so" and plugin.is_file()
    assert can_load("libc.so.6") and not can_load("libponder-no-such-library.so.9")


def unresolved(plugin: Path) -> tuple[set[str], dict[str, str]]:
    """What `ldd` says the plugin cannot find, and where it finds the rest: an oracle apart from
    the code under test."""
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=60,
                         check=False).stdout
    missing = set(re.findall(r"^\s*(\S+) => not found", out, re.MULTILINE))
    found = dict(re.findall(r"^\s*(\S+) => (/\S+)", out, re.MULTILINE))
    return missing, found


def start_on_x11(tmp_path: Path, prefix: list[str] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "WAYLAND", "XDG_SESSION"))}
    # The check runs before Qt connects to the display, so no X server is needed to see it.
    env.update(PONDER_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="xcb", DISPLAY=":97")
    return subprocess.run([*prefix, sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def assert_named_in_one_line(proc: subprocess.CompletedProcess, sonames: set[str]) -> None:
    assert proc.returncode == 1, proc.stderr  # not 134: Qt never got to abort
    line = proc.stderr.strip()
    assert "\n" not in line and "qt.qpa" not in line, line
    assert all(s in line for s in sonames), line
    assert "sudo apt install" in line and "sudo dnf install" in line


@linux_only
@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_a_real_start_names_the_libraries_this_machine_lacks(tmp_path):
    missing, _ = unresolved(platform_check.xcb_plugin())
    known = missing & {lib.soname for lib in LIBRARIES}
    if not known:
        pytest.skip("this machine has every library the xcb plugin needs")
    assert_named_in_one_line(start_on_x11(tmp_path), known)


def can_hide_files() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "-m", "mount", "--bind", "/dev/null", "/dev/null"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@linux_only
@pytest.mark.skipif(shutil.which("ldd") is None or not can_hide_files(),
                    reason="needs ldd and a private mount namespace (unshare -m)")
def test_a_real_start_names_a_library_hidden_from_it(tmp_path):
    missing, found = unresolved(platform_check.xcb_plugin())
    hidden = next(s for s in BUNDLED if s in found)
    empty = tmp_path / "empty.so"
    empty.write_bytes(b"")
    # In a mount namespace of its own, the library's file reads as empty: the loader refuses it
    # as it would a missing one, and nothing outside the namespace changes.
    prefix = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$1" && shift && exec "$@"', str(empty),
              found[hidden]]
    assert_named_in_one_line(start_on_x11(tmp_path, prefix), {hidden} | (missing & set(BUNDLED)))
