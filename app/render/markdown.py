"""Markdown to the HTML subset QTextDocument understands (HTML 4, little CSS).

What the view must do with the result:
- `images`: add each as `document.addResource(QTextDocument.ImageResource,
  QUrl("math:" + key), QImage.fromData(png))`; the <img> width/height attributes are
  device-independent px and the PNGs have twice those pixels (crisp on HiDPI).
- links: `copy:N` copies `code_blocks[N]` to the clipboard; anything else is an
  http(s) link (the only scheme let through) to open externally.

A block too large to render in one go (a table of thousands of rows, a long code
block, a paragraph of thousands of formulas) is rendered in pieces, each with a
`Part` that says which piece it is (see incremental.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from app.render.code import highlight
from app.render.math import PENDING, formula_key, render_tex, render_tex_later
from app.render.syntax import CLOSERS, parser
from app.render.theme import DEFAULT_TEXT_PX, Theme, theme_for

DISPLAY_SCALE = 1.25  # display math is set larger than the text around it
# Qt's QTextDocument sizes <h1>..<h6> at these multiples of the body font.
HEADING_SCALE = {"h1": 2.0, "h2": 1.5, "h3": 1.2, "h4": 1.0, "h5": 0.8, "h6": 0.7}


@dataclass(slots=True)
class RenderedHtml:
    html: str
    # Raw code of each fenced/indented code block, in order. The link for
    # code_blocks[i] is "copy:{code_base + i}" (see render_markdown).
    code_blocks: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)  # math image key -> PNG
    math_pending: bool = False  # some formula shows as source until its image is ready
    waiting: tuple = ()  # those formulas (math.formula_key), so a caller knows when to render again


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a block rendered in pieces: "table" rows, "code" lines or a
    "paragraph"'s text. The pieces' HTML, one after the other, reads as the block."""

    kind: str
    context: str = ""  # parsed before the piece: a table's header and delimiter rows, a fence's first line
    first: bool = True  # shows the table's header row, the code's language and Copy link, a paragraph's top margin
    last: bool = True  # a paragraph's bottom margin (the pieces of one paragraph sit close)
    widths: tuple[int, ...] = ()  # a table's column widths in percent, the same in every piece


def render_markdown(
    text: str, dark: bool = False, *, text_px: float = DEFAULT_TEXT_PX, code_base: int = 0,
    math_ready: Callable[[], None] | None = None, part: Part | None = None,
) -> RenderedHtml:
    """Render `text` for a QTextBrowser on a light (or `dark`) background.

    `code_base` numbers the Copy links from there on: a caller rendering a message in
    pieces (IncrementalMarkdown) passes the count of code blocks before this piece.
    With `math_ready`, formulas not typeset before are typeset on a helper thread: the
    HTML shows their source, `math_pending` is set, and `math_ready()` is called (on
    that thread) when rendering again would give the images.

    With `part`, `text` is one piece of a larger block (see Part): a piece of code
    gives its code unstripped in `code_blocks`, for the caller to join.
    """
    env = {"theme": theme_for(dark), "text_px": float(text_px), "code_base": code_base, "code_blocks": [],
           "images": {}, "math_ready": math_ready, "waiting": [], "part": part}
    md = parser()
    if part is None:
        tokens = md.parse(text, env)
    elif part.kind == "paragraph":
        tokens = _paragraph_piece(md.parseInline(text.strip(), env), part)
    else:
        tokens = md.parse(part.context + text, env)
        if not part.first:
            tokens = _without_header(tokens)
    html = _renderer().render(tokens, md.options, env)
    return RenderedHtml(html, env["code_blocks"], env["images"], bool(env["waiting"]), tuple(env["waiting"]))


def _paragraph_piece(tokens: list[Token], part: Part) -> list[Token]:
    """A paragraph around inline tokens, close to the pieces before and after it."""
    if not any(t.children for t in tokens):
        return []
    margins = ("" if part.first else "margin-top:0px; ") + ("" if part.last else "margin-bottom:0px; ")
    opening, closing = Token("paragraph_open", "p", 1), Token("paragraph_close", "p", -1)
    if margins:
        opening.attrSet("style", margins.strip())
    return [opening, *tokens, closing]


def _without_header(tokens: list[Token]) -> list[Token]:
    """A later piece of a table leaves out the header row (and shows nothing without
    rows); a later piece of code is the code alone (see _code_block)."""
    out, skip = [], False
    for token in tokens:
        if token.type == "thead_open":
            skip = True
        elif token.type == "thead_close":
            skip = False
            continue
        if not skip:
            out.append(token)
    if out and out[0].type == "table_open" and not any(t.type == "tbody_open" for t in out):
        return []
    return out


class _Renderer(RendererHTML):
    """markdown-it's HTML renderer with a rule (method) per token type changed for Qt."""

    # -- code ----------------------------------------------------------------------

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        info = tokens[idx].info.strip()
        return _code_block(tokens[idx].content, info.split(maxsplit=1)[0] if info else "", env)

    def code_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _code_block(tokens[idx].content, "", env)

    def code_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        theme: Theme = env["theme"]
        return f'<code style="background-color:{theme.inline_code_bg}">{escapeHtml(tokens[idx].content)}</code>'

    # -- math ----------------------------------------------------------------------

    def math_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _math(tokens[idx], env, scale=env.get("font_scale", 1.0))

    def math_inline_double(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # $$..$$ or \[..\] inside a line of text: display size, but it stays in the line.
        return _math(tokens[idx], env, scale=DISPLAY_SCALE * env.get("font_scale", 1.0))

    # Math in a heading is set at the heading's size (else it sits small and too high).
    def heading_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        env["font_scale"] = HEADING_SCALE.get(tokens[idx].tag, 1.0)
        return self.renderToken(tokens, idx, options, env)

    def heading_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        env["font_scale"] = 1.0
        return self.renderToken(tokens, idx, options, env)

    def math_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _math(tokens[idx], env, scale=DISPLAY_SCALE, block=True)

    # -- tables: QTextDocument takes borders and padding from attributes, not CSS ----

    def table_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        theme: Theme = env["theme"]
        part: Part | None = env["part"]
        # A table in pieces: every piece as wide as the view with the same columns, so
        # the pieces line up as one table.
        width = ' width="100%"' if part is not None and part.widths else ""
        return (
            f'<table border="1" cellpadding="4" cellspacing="0"{width} '
            f'style="border-collapse: collapse; border-style: solid; border-color: {theme.border}">\n'
        )

    def tr_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        env["column"] = 0
        return self.renderToken(tokens, idx, options, env)

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        part: Part | None = env["part"]
        column = env.get("column", 0)
        env["column"] = column + 1
        width = part.widths[column] if part is not None and column < len(part.widths) else None
        return _cell_open(tokens[idx], width)

    td_open = th_open

    # -- other ---------------------------------------------------------------------

    def blockquote_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f'<blockquote style="color:{env["theme"].muted}">\n'

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # A link, not an <img>: the view loads no images from the model's URLs.
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env) or "image"
        return f'<a href="{escapeHtml(str(token.attrGet("src") or ""))}">{escapeHtml(alt)}</a>'


@functools.cache
def _renderer() -> _Renderer:
    return _Renderer()  # stateless (all state is in env); building one inspects its methods


def _code_block(code: str, lang: str, env: EnvType) -> str:
    theme: Theme = env["theme"]
    part: Part | None = env["part"]
    whole = code
    code = code[:-1] if code.endswith("\n") else code
    n = env["code_base"] + len(env["code_blocks"])
    env["code_blocks"].append(whole if part is not None else code)
    if part is not None and not part.first and not code:
        return ""  # only the closing fence was left for this piece
    # A one-cell table gives the block padding and a full-width background, which a
    # bare <pre> in QTextDocument has neither of; the header row holds the Copy link.
    header = "" if part is not None and not part.first else (
        f'<tr><td><font color="{theme.muted}">{escapeHtml(lang)}</font></td>'
        f'<td align="right"><a href="copy:{n}">Copy</a></td></tr>'
    )
    return (
        f'<table width="100%" border="0" cellpadding="6" cellspacing="0" bgcolor="{theme.code_bg}">{header}'
        f'<tr><td colspan="2"><pre style="background-color:{theme.code_bg}; color:{theme.text}; '
        f'margin-top:0; margin-bottom:0">{highlight(code, lang, theme.code_style)}</pre></td></tr></table>\n'
    )


def _math(token: Token, env: EnvType, scale: float, block: bool = False) -> str:
    theme: Theme = env["theme"]
    closed = (token.meta or {}).get("closed", True)
    image = None
    if closed and env["math_ready"] is not None:
        image = render_tex_later(token.content, env["text_px"] * scale, theme.text, env["math_ready"], display=block)
        if image is PENDING:
            env["waiting"].append(formula_key(token.content, env["text_px"] * scale, theme.text, display=block))
            image = None
    elif closed:  # an unclosed block is still streaming in (or broken): show its source
        image = render_tex(token.content, env["text_px"] * scale, theme.text, display=block)
    if image is None:
        source = token.markup + token.content + (CLOSERS.get(token.markup, "") if closed else "")
        if block:
            return f'<pre style="color:{theme.muted}">{escapeHtml(source.strip())}</pre>\n'
        return f"<code>{escapeHtml(source)}</code>"
    env["images"][image.key] = image.png
    tag = f'<img src="math:{image.key}" width="{image.width}" height="{image.height}"'
    if block:
        return f'<p align="center">{tag} /></p>\n'
    # Qt centres a "middle" image a little above the baseline; math.py pads it to match.
    return f'{tag} style="vertical-align: middle" />'


def _cell_open(token: Token, width: int | None = None) -> str:
    # markdown-it writes column alignment as CSS, which Qt ignores on cells.
    style = str(token.attrGet("style") or "")
    align = style.partition("text-align:")[2].strip(" ;")
    attrs = (f' align="{align}"' if align else "") + (f' width="{width}%"' if width else "")
    return f"<{token.tag}{attrs}>"
