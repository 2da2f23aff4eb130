"""Readable text from HTML: block elements start new lines, scripts and styles are
dropped, entities decoded.

A small scanner rather than the standard library's HTMLParser: that one rescans to
the end of the input for every "<" that does not close (200 KB of "<a" took 69 s),
and a document is a stranger's file. Here every character is looked at a bounded
number of times: a "<" is a tag only if its ">" comes before the next "<" (or a quoted
attribute value holds the ">" and no "<").
"""

from __future__ import annotations

import re
from html import unescape

_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "nav",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "dt", "dd", "hr", "main", "aside", "figure",
    "figcaption", "title", "form", "details", "summary",
}
_SKIP = {"noscript", "template", "svg", "head"}  # their text is not shown (but <title> in <head> is)
_RAW_END = {  # content is not markup: everything up to the closing tag is dropped
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
# A tag whose quoted attribute values may hold ">", with no "<" anywhere in it: a
# failed match stops at the next "<", so the tries of successive "<" never overlap.
_TAG = re.compile(r"""<[^<>"']*(?:(?:"[^<"]*"|'[^<']*')[^<>"']*)*>""")
_NAME = re.compile(r"/?([a-zA-Z][a-zA-Z0-9:-]*)")
_SPACE = re.compile(r"\s+")


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0
        self.title = 0

    def data(self, text: str) -> None:
        if not text or (self.skip and not self.title):
            return
        text = unescape(text)
        self.parts.append(text if self.pre else _SPACE.sub(" ", text))

    def tag(self, inner: str) -> str | None:
        """Handle the tag between "<" and ">"; the name of a raw-text element it opens."""
        m = _NAME.match(inner)
        if m is None:
            return None  # <!DOCTYPE>, <?xml?> and the like
        name = m.group(1).lower()
        if inner.startswith("/"):
            self._end(name)
            return None
        if name in _SKIP:
            self.skip += 1
        self.pre += name == "pre"
        self.title += name == "title"
        if name in _BLOCKS:
            self.parts.append("\n")
        if name in ("td", "th"):
            self.parts.append(" | ")
        if inner.endswith("/"):
            self._end(name)
            return None
        return name if name in _RAW_END else None

    def _end(self, name: str) -> None:
        if name in _SKIP and self.skip:
            self.skip -= 1
        if name == "pre" and self.pre:
            self.pre -= 1
        if name == "title" and self.title:
            self.title -= 1
        if name in _BLOCKS:
            self.parts.append("\n")


def html_to_text(markup: str) -> str:
    out = _Text()
    n = len(markup)
    start = pos = 0  # text not yet given out begins at `start`; the next "<" is looked for from `pos`
    gt = -1  # the next ">" at or after the current "<" (kept: many "<" may share it)
    while (lt := markup.find("<", pos)) >= 0:
        if markup.startswith("<!--", lt):
            out.data(markup[start:lt])
            end = markup.find("-->", lt + 4)
            start = pos = n if end < 0 else end + 3
            continue
        if gt <= lt:
            gt = markup.find(">", lt + 1)
            if gt < 0:
                break  # no ">" anywhere after: the rest is text
        following = markup[lt + 1:lt + 2]
        if not (following and following.isascii() and (following.isalpha() or following in "/!?")):
            pos = lt + 1  # "a < b": text
            continue
        quoted = _TAG.match(markup, lt)
        close = quoted.end() - 1 if quoted is not None else gt
        if quoted is None and markup.find("<", lt + 1, gt) >= 0:
            pos = lt + 1  # a "<" that never closes: text
            continue
        out.data(markup[start:lt])
        raw = out.tag(markup[lt + 1:close])
        start = pos = close + 1
        if raw is not None:
            end_tag = _RAW_END[raw].search(markup, pos)
            start = pos = n if end_tag is None else end_tag.end()
    out.data(markup[start:])
    lines = (line.strip() for line in "".join(out.parts).split("\n"))
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
