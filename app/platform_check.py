"""Before Qt starts on an X11 desktop: name every system library its xcb plugin cannot load.

Qt aborts the process (SIGABRT, exit 134) when its xcb platform plugin fails to load, and its
message names one library at best (from Qt 6.5 it always names xcb-cursor, whatever is
missing). A fresh desktop often lacks several of the xcb-util libraries, so the person would
install one, start again, abort again. This module says them all at once, with the commands
that install them. It imports no Qt: it runs before PySide6 loads anything.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app import APP_NAME


@dataclass(frozen=True)
class Library:
    soname: str
    debian: str  # Debian and Ubuntu package
    fedora: str


# What libqxcb.so and the Qt libraries it pulls in (XcbQpa, Gui, Core, DBus) need from the
# system, read with `readelf -d` from PySide6 6.11's wheel; libc, libstdc++, libz and the other
# libraries every desktop has are left out. Ordered as a person would install them: the
# xcb-util ones a fresh desktop most often lacks come first.
LIBRARIES: tuple[Library, ...] = (
    Library("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    Library("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    Library("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    Library("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    Library("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    Library("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    Library("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    Library("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    Library("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    Library("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    Library("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    Library("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    Library("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    Library("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    Library("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    Library("libxcb.so.1", "libxcb1", "libxcb"),
    Library("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    Library("libX11.so.6", "libx11-6", "libX11"),
    Library("libGL.so.1", "libgl1", "libglvnd-glx"),
    Library("libEGL.so.1", "libegl1", "libglvnd-egl"),
    Library("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    Library("libfreetype.so.6", "libfreetype6", "freetype"),
    Library("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    Library("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
    Library("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

# The ones the Linux bundle carries (installer/ponder.spec): fresh desktops often lack them and
# their ABI has not changed in a decade. libxcb itself and GL belong to the system's graphics
# stack, which PyInstaller rightly leaves to the system.
BUNDLED = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-image.so.0",
           "libxcb-render-util.so.0", "libxcb-util.so.1", "libxkbcommon-x11.so.0")

Loader = Callable[[str], bool]


def can_load(name: str) -> bool:
    """Whether the dynamic loader opens this library (a soname, searched as Qt's would be, or a path)."""
    import ctypes  # here: only X11 starts pay for it (about 1.5 ms)

    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def will_use_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick its xcb plugin: QT_QPA_PLATFORM names it first, or is unset on an
    X11 display that is not a Wayland session Qt would prefer."""
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:  # "xcb", "xcb:option", or a list tried in order: "wayland;xcb"
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    wayland_session = environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    return not (wayland_session and environ.get("WAYLAND_DISPLAY"))


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing PySide6 (also inside the bundle)."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        plugin = Path(folder, "Qt", "plugins", "platforms", "libqxcb.so")
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(plugin: Path | None, load: Loader = can_load) -> list[Library]:
    """The listed libraries that cannot be loaded, or none when the plugin itself loads.

    Loading the plugin is the cheap, exact test (Qt loads the same file a moment later, so its
    libraries are opened once); only when it fails is each library tried by name."""
    if plugin is None or load(str(plugin)):
        return []
    return [lib for lib in LIBRARIES if not load(lib.soname)]


def install_hint(missing: list[Library]) -> str:
    """One line: what is missing and the commands that install it."""
    debian = " ".join(dict.fromkeys(lib.debian for lib in missing))
    fedora = " ".join(dict.fromkeys(lib.fedora for lib in missing))
    names = ", ".join(lib.soname for lib in missing)
    return (f"{APP_NAME} cannot open its window: the X11 desktop libraries {names} are missing. "
            f"Install them with `sudo apt install {debian}` (Debian, Ubuntu) or "
            f"`sudo dnf install {fedora}` (Fedora), then start {APP_NAME} again.")


def check_xcb(environ: Mapping[str, str] = os.environ, load: Loader = can_load,
              find_plugin: Callable[[], Path | None] = xcb_plugin) -> str | None:
    """The line to show instead of starting Qt, or None when Qt may start."""
    if not will_use_xcb(environ):
        return None
    missing = missing_libraries(find_plugin(), load)
    return install_hint(missing) if missing else None
