"""A document turned into text, with enough layout kept to cite where a passage came from."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

Format = Literal["pdf", "docx", "text", "markdown", "html", "csv", "json", "code"]
# Bumped whenever extraction changes its output: stored text from an older version is
# extracted again rather than reused.
EXTRACTOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Document:
    """One attached file. `error` is set (and `text` empty) when it could not be read.

    PDFs keep `page_starts`, the offset in `text` where each page begins, so a span of
    text maps back to pages; every other format is cited by line.
    """

    name: str
    size: int = 0
    format: str = ""
    sha256: str = ""
    text: str = ""
    page_starts: tuple[int, ...] = ()
    encoding: str | None = None
    error: str | None = None
    error_type: str | None = None
    path: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def pages(self) -> int:
        return len(self.page_starts)

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1 if self.text else 0

    @property
    def unit(self) -> Literal["page", "line"]:
        return "page" if self.page_starts else "line"

    def span_units(self, start: int, end: int) -> tuple[int, int]:
        """First and last page (PDF) or line, 1-based, covered by text[start:end]."""
        last = max(start, end - 1)
        if self.page_starts:
            return (bisect.bisect_right(self.page_starts, start), bisect.bisect_right(self.page_starts, last))
        return self.text.count("\n", 0, start) + 1, self.text.count("\n", 0, last) + 1

    def location(self, start: int, end: int) -> str:
        """"p. 3-4" or "lines 10-40" for text[start:end]."""
        first, last = self.span_units(start, end)
        if self.page_starts:
            return f"p. {first}" if first == last else f"p. {first}-{last}"
        return f"line {first}" if first == last else f"lines {first}-{last}"

    def describe(self) -> str:
        """Short metadata for people and prompts: "12 pages" / "340 lines"."""
        if self.page_starts:
            return f"{self.pages} page" + ("s" if self.pages != 1 else "")
        return f"{self.lines} line" + ("s" if self.lines != 1 else "")


def failed(name: str, exc: Exception, *, path: str = "", size: int = 0, fmt: str = "", sha256: str = "") -> Document:
    """A Document that records why reading `name` failed."""
    message = getattr(exc, "user_message", None) or str(exc)
    return Document(name=name, size=size, format=fmt, sha256=sha256, error=message,
                    error_type=type(exc).__name__, path=path)
