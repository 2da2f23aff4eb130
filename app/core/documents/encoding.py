"""Bytes to text without assuming UTF-8: byte-order marks, then strict UTF-8, then
charset-normalizer's detection; binary content is refused rather than shown as noise."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio
from charset_normalizer.utils import is_multi_byte_encoding

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


def _non_ascii_sample(data: bytes, limit: int = 400, radius: int = 40) -> bytes:
    """Bytes around the first `limit` non-ASCII runs: where code pages differ."""
    spans = [m.span() for _, m in zip(range(limit), re.finditer(rb"[\x80-\xff]+", data))]
    return b"\n".join(data[max(0, a - radius):b + radius] for a, b in spans)


def _cp1252_instead(data: bytes, detected: str) -> bool:
    """Whether Windows-1252 reads `data` at least as cleanly as the detected single-byte
    code page. On mostly-ASCII text with a few accents detection has little to go on
    and picks cp1250 or cp775 about as often as cp1252, which is far more common and
    turns "naïve" into "naďve" when wrong."""
    if detected == "cp1252" or is_multi_byte_encoding(detected):
        return False
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    sample = _non_ascii_sample(data)
    return mess_ratio(sample.decode("cp1252"), 1.0) <= mess_ratio(sample.decode(detected, "replace"), 1.0)


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
        encoding = "cp1252" if _cp1252_instead(data, best.encoding) else best.encoding
        text = data.decode(encoding, "replace")
    if _looks_binary(text):
        raise binary
    return text, encoding
