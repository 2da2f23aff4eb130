"""PDF text with pypdfium2 (PDFium's text layer).

Chosen over pypdf by speed: on a generated 300-page text PDF PDFium read ~1,400
pages/s and pypdf ~470 (bench/documents.py measures it again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.core.documents.errors import (
    CorruptDocument,
    EncryptedDocument,
    ExtractionCancelled,
    FileTooLarge,
    NoTextLayer,
)

# PDFium is not thread-safe: one document operation at a time in this process.
_PDFIUM_LOCK = threading.Lock()
PAGE_SEPARATOR = "\n\n"
# A few kilobytes of shared objects can declare a million pages (12 minutes at ~1,400
# pages/s) or compressed page contents that unpack to gigabytes of text. Long real
# books and manuals have a few thousand pages.
MAX_PAGES = 20_000
MAX_TEXT_CHARS = 100_000_000


def _clean(text: str) -> str:
    # PDFium ends lines with CRLF and marks soft hyphens with U+FFFE / U+0002.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "").replace("\x02", "").replace("\x00", "")


def _open(data: bytes, name: str):
    import pypdfium2 as pdfium  # loaded when a PDF is read, not at start-up
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedDocument(f"{name} is protected by a password; open it and save an unprotected copy.") from None
        raise CorruptDocument(f"{name} is damaged or is not a PDF ({exc}).") from None


def read_pdf(data: bytes, name: str, progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> tuple[str, tuple[int, ...]]:
    """(text, offset of each page in it). Progress is pages read of the total;
    `cancel` is checked before each page."""
    import pypdfium2 as pdfium

    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    with _PDFIUM_LOCK:
        doc = _open(data, name)
        try:
            total = len(doc)
            if total == 0:
                raise CorruptDocument(f"{name} has no pages.")
            if total > MAX_PAGES:
                raise FileTooLarge(f"{name} has {total:,} pages; Ponder reads PDFs of up to {MAX_PAGES:,} pages. "
                                   f"Split it and attach the part you need.")
            for i in range(total):
                if cancel is not None and cancel.is_set():
                    raise ExtractionCancelled("Reading was cancelled.")
                try:
                    page = doc[i]
                    textpage = page.get_textpage()
                    text = _clean(textpage.get_text_range())
                    textpage.close()
                    page.close()
                except pdfium.PdfiumError as exc:
                    raise CorruptDocument(f"{name} is damaged: page {i + 1} cannot be read ({exc}).") from None
                if i:
                    parts.append(PAGE_SEPARATOR)
                    offset += len(PAGE_SEPARATOR)
                starts.append(offset)
                parts.append(text)
                offset += len(text)
                if offset > MAX_TEXT_CHARS:
                    raise FileTooLarge(f"{name} holds more than {MAX_TEXT_CHARS:,} characters of "
                                       f"text (by page {i + 1}); Ponder does not read documents that long.")
                if progress is not None:
                    progress(i + 1, total)
        finally:
            doc.close()
    text = "".join(parts)
    if not text.strip():
        raise NoTextLayer(
            f"{name} has no text layer (it looks like scanned images); Ponder cannot read text "
            f"from images because OCR is not available."
        )
    return text, tuple(starts)
