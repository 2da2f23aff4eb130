"""Bytes to text without assuming UTF-8: byte-order marks, then strict UTF-8, then
charset-normalizer's detection; binary content is refused rather than shown as noise."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from app.core.documents.errors import NotText

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters other than tab, newline, carriage return and form feed are rare
# in real text in any encoding but common in binary data decoded as a legacy code page.
_CONTROL = {c for c in range(32) if c not in (9, 10, 12, 13)} | {127}
MAX_CONTROL_RATIO = 0.01
SAMPLE = 64 * 1024


def _looks_binary(text: str) -> bool:
    sample = text[:SAMPLE]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ord(ch) in _CONTROL)
    return bad / len(sample) > MAX_CONTROL_RATIO


def decode(data: bytes, name: str = "The file") -> tuple[str, str]:
    """(text, encoding name) for `data`; raises NotText for binary content."""
    binary = NotText(f"{name} does not contain text (it looks like a binary file despite its name).")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                break  # a BOM followed by garbage: let detection have a go
            if _looks_binary(text):
                raise binary
            return text, encoding
    if b"\x00" in data[:SAMPLE]:
        # NUL bytes without a UTF-16/32 mark: binary (BOM-less UTF-16 is too rare to
        # guess at, and guessing wrong shows a page of nonsense).
        raise binary
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None:
            raise binary from None
        text, encoding = str(best), best.encoding
    if _looks_binary(text):
        raise binary
    return text, encoding
