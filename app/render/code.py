"""Code highlighting with Pygments, as inline styles (QTextDocument cannot be relied on
to apply class-based style sheets)."""

from __future__ import annotations

import functools

from pygments import highlight as _highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

TAB_SIZE = 4  # Qt's tab stops are ~80 px apart; code reads better at 4 columns


@functools.cache
def _formatter(style: str) -> HtmlFormatter:
    # nowrap: the caller writes the <pre> (with its background) itself.
    return HtmlFormatter(style=style, noclasses=True, nowrap=True)


@functools.lru_cache(maxsize=128)
def _lexer(lang: str) -> Lexer:
    # Guessing a lexer from the code is slow and often wrong: no language, no colours.
    try:
        return get_lexer_by_name(lang, stripnl=False) if lang else TextLexer()
    except ClassNotFound:
        return TextLexer()


def highlight(code: str, lang: str, style: str) -> str:
    """HTML for the inside of a <pre>: spans with inline colour styles, escaped text."""
    html = _highlight(code.expandtabs(TAB_SIZE), _lexer(lang.lower()), _formatter(style))
    # Pygments ends with a newline, which a <pre> would show as an empty last line.
    return html[:-1] if html.endswith("\n") else html
