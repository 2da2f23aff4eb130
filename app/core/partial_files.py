"""Partial download files, handled as untrusted names in a folder others may write to:
opened only when they are plain files with one name (never through a link, never
blocking on a FIFO planted at the name), written unbuffered, and the disk's free
space checked first."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from app.core.errors import DiskFull, DownloadError

MARGIN_BYTES = 256 * 1024 * 1024  # room left after the file: logs, the chat database, the OS


def free_bytes(path: Path) -> int:
    """Free space where `path` (or its nearest existing parent) lives. Tests patch this."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


# Never through a link (O_NOFOLLOW), never blocking on a FIFO planted at the name (O_NONBLOCK
# has no effect on a plain file); where the OS lacks a flag, the lstat/fstat checks still hold.
OPEN_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def not_a_partial(path: Path) -> DownloadError:
    return DownloadError(
        f"{path} is not a partial download (it is a link, a folder or a file with other names), so the "
        f"download will not write to it. Remove it, or choose another folder, and try again.", path=str(path))


def open_no_follow(path: Path, flags: int) -> int:
    """A descriptor for `path` only if it is a plain file with no other names (a hard link to
    someone's file would be written through as surely as a symlink)."""
    try:
        fd = os.open(path, flags | OPEN_FLAGS, 0o644)
    except OSError as exc:
        # ELOOP/EMLINK: a symlink (O_NOFOLLOW); EEXIST: one planted since we looked (O_EXCL);
        # ENXIO: a FIFO; EISDIR: a folder.
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.EEXIST, errno.ENXIO, errno.EISDIR):
            raise not_a_partial(path) from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise not_a_partial(path)
    return fd


def partial_size(path: Path) -> int:
    """Bytes in the partial file (0 when there is none); anything but a plain file is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        raise not_a_partial(path)
    return st.st_size


def open_partial(path: Path):
    """Open the partial file for appending, unbuffered: a kill or a full disk then loses
    nothing that was reported as written. A new one is created with O_EXCL, an old one
    opened without following links. Tests patch this to simulate a full disk."""
    create = 0 if os.path.lexists(path) else os.O_CREAT | os.O_EXCL
    return os.fdopen(open_no_follow(path, os.O_WRONLY | os.O_APPEND | create), "ab", buffering=0)


def write_all(fh, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[fh.write(view):]


def hash_prefix(path: Path, hasher) -> int:
    done = 0
    with os.fdopen(open_no_follow(path, os.O_RDONLY), "rb") as fh:
        while chunk := fh.read(4 << 20):
            hasher.update(chunk)
            done += len(chunk)
    return done


def check_space(where: Path, needed: int, name: str) -> None:
    free = free_bytes(where)
    if free < needed + MARGIN_BYTES:
        raise DiskFull(
            f"Not enough disk space for {name}: it needs {gb(needed + MARGIN_BYTES)} free in {where}, "
            f"and there is {gb(free)}. Free some space or choose another folder.",
            needed=needed, free=free,
        )


def gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
