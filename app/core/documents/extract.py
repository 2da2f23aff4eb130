"""One file to a Document: size and emptiness checks, hashing, then the reader for its
format. Every failure becomes a Document with `error` set, never an exception, except
cancellation (ExtractionCancelled), which the caller asked for."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
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


def _mb(n: int) -> str:
    """Sizes in binary megabytes, as file managers mostly show them."""
    return f"{n / 2**20:,.1f}".removesuffix(".0")


def _read_bytes(path: Path, name: str, max_bytes: int) -> bytes:
    try:
        if path.is_dir():
            raise DocumentUnreadable(f"{name} is a folder, not a file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise FileTooLarge(
                f"{name} is {_mb(size)} MB; documents over {_mb(max_bytes)} MB are not read."
            )
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        raise DocumentUnreadable(f"{name} is no longer there (moved or deleted).") from None
    except PermissionError:
        raise DocumentUnreadable(f"Ponder is not allowed to read {name}.") from None
    except OSError as exc:
        raise DocumentUnreadable(f"{name} could not be read: {exc.strerror or exc}.") from None
    if len(data) > max_bytes:
        raise FileTooLarge(f"{name} is larger than {_mb(max_bytes)} MB; it is not read.")
    return data


def extract_bytes(data: bytes, name: str, fmt: str, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> Document:
    """Text from `data` read as format `fmt`; raises DocumentError subclasses."""
    sha = hashlib.sha256(data).hexdigest()
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


def extract_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> Document:
    """Read one file. A problem gives a Document whose `error` says what went wrong;
    only a set `cancel` raises (ExtractionCancelled)."""
    path = Path(path)
    name = path.name
    fmt = format_of(path)
    size = 0
    try:
        if fmt is None:
            raise UnsupportedFormat(f"{name}: Ponder cannot read this kind of file. It reads {SUPPORTED_DESCRIPTION}.")
        if cancel is not None and cancel.is_set():
            raise ExtractionCancelled("Reading was cancelled.")
        data = _read_bytes(path, name, max_bytes)
        size = len(data)
        doc = extract_bytes(data, name, fmt, progress, cancel)
        return dataclasses.replace(doc, path=str(path))
    except ExtractionCancelled:
        raise
    except DocumentError as exc:
        return failed(name, exc, path=str(path), size=size, fmt=fmt or "")
    except Exception as exc:  # a reader library failing in a way not foreseen: one file, not the app
        log.exception("extracting %s failed", path)
        return failed(name, DocumentError(f"{name} could not be read ({type(exc).__name__}: {exc})."),
                      path=str(path), size=size, fmt=fmt or "")

