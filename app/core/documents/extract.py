"""One file to a Document: size and emptiness checks, hashing, then the reader for its
format. Every failure becomes a Document with `error` set, never an exception, except
cancellation (ExtractionCancelled), which the caller asked for."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from app.core.documents.encoding import decode
from app.core.documents.errors import (
    DocumentError,
    DocumentUnreadable,
    EmptyDocument,
    ExtractionCancelled,
    FileTooLarge,
    UnsupportedFormat,
)
from app.core.documents.formats import SUPPORTED_DESCRIPTION, format_of
from app.core.documents.html_text import html_to_text
from app.core.documents.model import Document, failed
from app.core.documents.pdf import read_pdf
from app.core.documents.word import read_docx

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
Progress = Callable[[int, int], None]
Known = Callable[[str], Document | None]


def _mb(n: int) -> str:
    """Sizes in binary megabytes, as file managers mostly show them."""
    return f"{n / 2**20:,.1f}".removesuffix(".0")


# O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, forever. It
# changes nothing for a regular file, and anything else is refused before a read.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # not on Windows, which has no FIFOs by file name
_OPEN_FLAGS = os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"))


def _not_regular(name: str, mode: int) -> DocumentUnreadable:
    if stat.S_ISDIR(mode):
        return DocumentUnreadable(f"{name} is a folder, not a file.")
    kind = next((what for test, what in _KINDS if test(mode)), "something other than a file")
    return DocumentUnreadable(f"{name} is not a regular file (it is {kind}); Ponder reads only ordinary files.")


def _mode_of(path: Path) -> int | None:
    try:
        return os.stat(path).st_mode
    except (OSError, ValueError):
        return None


def read_regular_file(path: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `max_bytes`.

    The checks are made on the open descriptor and the bytes read from that same
    descriptor, so the file cannot be swapped for a pipe or a device in between.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise DocumentUnreadable(f"{name} was not found; check the path (it may have been moved or deleted).") from None
    except OSError as exc:
        # Opening a socket fails (ENXIO) and Windows refuses folders: say what it is.
        mode = _mode_of(path)
        if mode is not None and not stat.S_ISREG(mode):
            raise _not_regular(name, mode) from None
        if isinstance(exc, PermissionError):
            raise DocumentUnreadable(f"Ponder is not allowed to read {name}.") from None
        raise DocumentUnreadable(f"{name} could not be read: {exc.strerror or exc}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(name, st.st_mode)
        if st.st_size > max_bytes:
            raise FileTooLarge(f"{name} is {_mb(st.st_size)} MB; documents over {_mb(max_bytes)} MB are not read.")
        if _NONBLOCK:
            os.set_blocking(fd, True)  # a regular file on a network share may otherwise answer "try again"
        with open(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)  # the file may have grown since fstat()
    except PermissionError:
        raise DocumentUnreadable(f"Ponder is not allowed to read {name}.") from None
    except OSError as exc:
        raise DocumentUnreadable(f"{name} could not be read: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileTooLarge(f"{name} is larger than {_mb(max_bytes)} MB; it is not read.")
    return data


def extract_bytes(data: bytes, name: str, fmt: str, progress: Progress | None = None,
                  cancel: threading.Event | None = None, *, sha256: str | None = None) -> Document:
    """Text from `data` read as format `fmt`; raises DocumentError subclasses.
    `sha256` is the digest of `data` when the caller already has it."""
    sha = sha256 or hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise EmptyDocument(f"{name} is empty.")
    if fmt == "pdf":
        text, starts = read_pdf(data, name, progress, cancel)
        return Document(name=name, size=len(data), format=fmt, sha256=sha, text=text, page_starts=starts)
    if fmt == "docx":
        text = read_docx(data, name, progress, cancel)
        encoding = None
    else:
        text, encoding = decode(data, name)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if fmt == "html":
            text = html_to_text(text)
        if progress is not None:
            progress(1, 1)
    if not text.strip():
        raise EmptyDocument(f"{name} has no text in it.")
    return Document(name=name, size=len(data), format=fmt, sha256=sha, text=text, encoding=encoding)


def _lookup(known: Known, sha: str) -> Document | None:
    try:
        return known(sha)
    except Exception:  # a failing lookup only costs reading the file again
        log.exception("looking up stored text failed")
        return None


def extract_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress | None = None,
                 cancel: threading.Event | None = None, known: Known | None = None) -> Document:
    """Read one file. A problem gives a Document whose `error` says what went wrong;
    only a set `cancel` raises (ExtractionCancelled).

    `known(sha256)` may return a Document already extracted from the same bytes: it
    is used (under this file's name) instead of extracting them again.
    """
    path = Path(path)
    name = path.name
    fmt = format_of(path)
    size = 0
    try:
        if fmt is None:
            raise UnsupportedFormat(f"{name}: Ponder cannot read this kind of file. It reads {SUPPORTED_DESCRIPTION}.")
        if cancel is not None and cancel.is_set():
            raise ExtractionCancelled("Reading was cancelled.")
        data = read_regular_file(path, name, max_bytes)
        size = len(data)
        sha = hashlib.sha256(data).hexdigest()
        reused = _lookup(known, sha) if known is not None and data.strip() else None
        if reused is not None:
            if progress is not None:
                progress(1, 1)
            # Same bytes under maybe another name: keep the name it was given with.
            return dataclasses.replace(reused, name=name, path=str(path), size=size)
        doc = extract_bytes(data, name, fmt, progress, cancel, sha256=sha)
        return dataclasses.replace(doc, path=str(path))
    except ExtractionCancelled:
        raise
    except DocumentError as exc:
        return failed(name, exc, path=str(path), size=size, fmt=fmt or "")
    except Exception as exc:  # a reader library failing in a way not foreseen: one file, not the app
        log.exception("extracting %s failed", path)
        return failed(name, DocumentError(f"{name} could not be read ({type(exc).__name__}: {exc})."),
                      path=str(path), size=size, fmt=fmt or "")
