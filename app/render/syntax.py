"""The Markdown dialect of model answers: CommonMark + tables + strikethrough + math.

Math: mdit_py_plugins' dollarmath gives inline `$..$` and `$$..$$`; the rules here add
`\\(..\\)`, `\\[..\\]`, and display blocks. Display blocks use their own rule rather than
dollarmath's or texmath's because streaming needs a block's extent to depend only on
its own lines: a line that starts with `$$` or `\\[` always opens a math block, which
runs to its closing delimiter, a blank line or the end of the text (still open). With
the plugins' rules an unclosed `$$` is a paragraph whose fate a later line decides,
so a block already shown could change shape.
"""

from __future__ import annotations

import functools

import re

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.dollarmath import dollarmath_plugin

SAFE_SCHEMES = ("http://", "https://")  # the only links the view opens (after asking)
_DISPLAY = (("$$", "$$"), ("\\[", "\\]"))
CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}  # math token markup -> its closing delimiter


@functools.cache
def parser() -> MarkdownIt:
    return _build()


@functools.cache
def block_parser() -> MarkdownIt:
    """The same blocks as parser(), without parsing their text (links, emphasis, math):
    for finding where blocks start and end, in about a third of the time."""
    md = _build()
    md.disable("inline")
    return md


def split_points(text: str) -> list[int]:
    """Where a paragraph's text may be cut in two without cutting a link, a code span
    or a formula: offsets just after a space, before a letter or an inline formula
    (so the rest cannot read as the start of a new block). Emphasis that spans a cut
    is lost; this is for paragraphs far too long to render in one go."""
    env: dict = {"split_points": [], "runs": [], "last": 0}
    _splitter().parseInline(text, env)
    return env["split_points"]


@functools.cache
def _splitter() -> MarkdownIt:
    md = _build()
    # Inline rules are tried only where a token may start; one that never matches sees
    # every such place at the top level, once the text rule also stops at spaces.
    md.inline.ruler.at("text", _text_to_space)
    md.inline.ruler.before("text", "split_point", _mark_split_point)
    return md


def _build() -> MarkdownIt:
    # html=False: raw HTML from the model is text, never markup.
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # A link definition would change links in blocks above it, which streaming has
    # already rendered; models seldom write them, so they stay plain text.
    md.disable("reference")
    # Pandoc's rule for $: no space inside the delimiters and no digit after the
    # closing one, so "costs $5 and $10" stays text.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.disable("math_block")
    md.block.ruler.before(
        "fence", "math_display", _display_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    md.inline.ruler.before("escape", "math_paren", _inline_rule("\\(", "math_inline"))
    md.inline.ruler.before("escape", "math_bracket", _inline_rule("\\[", "math_inline_double"))
    # Only web links: a "file:", "mailto:" or custom-scheme link from the model is text.
    md.validateLink = lambda url: url.strip().lower().startswith(SAFE_SCHEMES)
    return md


# The text rule's stop characters (markdown-it's), and a space: see split_points.
_STOP = re.compile(r"[\n!#$%&*+\-:<=>@\[\\\]^_`{}~ ]")
_EMPHASIS_REACH = 400  # characters after an opening "*" in which no cut is made


def _text_to_space(state: StateInline, silent: bool) -> bool:
    stop = _STOP.search(state.src, state.pos)
    end = stop.start() if stop else state.posMax
    if end == state.pos:
        return False
    if not silent:
        state.pending += state.src[state.pos : end]  # (append_pending, where there is one, is quicker)
    state.pos = end
    return True


def _mark_split_point(state: StateInline, silent: bool) -> bool:
    pos, src, env = state.pos, state.src, state.env
    if silent or state.level or state.linkLevel:
        return False
    # Emphasis is paired after the whole text is read: note where each "*", "_" or
    # "~~" run was, to keep a cut out of what may be emphasis.
    runs, delimiters = env["runs"], state.delimiters
    while len(runs) < len(delimiters):
        d = delimiters[len(runs)]
        runs.append((env["last"], d.open and not d.close))
    env["last"] = pos
    if pos == 0 or src[pos - 1] not in " \n" or (runs and runs[-1][1] and pos - runs[-1][0] < _EMPHASIS_REACH):
        return False
    nxt = src[pos]
    if nxt.isalpha() or (nxt == "$" and src[pos + 1 : pos + 2] not in ("$", "")):
        env["split_points"].append(pos)
    return False


def _inline_rule(opener: str, token_type: str):
    closer = CLOSERS[opener]

    def rule(state: StateInline, silent: bool) -> bool:
        if not state.src.startswith(opener, state.pos):
            return False
        start = state.pos + len(opener)
        end = state.src.find(closer, start, state.posMax)
        if end < 0 or not state.src[start:end].strip():
            return False
        if not silent:
            token = state.push(token_type, "math", 0)
            token.content, token.markup = state.src[start:end], opener
        state.pos = end + len(closer)
        return True

    return rule


def _display_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.is_code_block(start_line):
        return False
    pos = state.bMarks[start_line] + state.tShift[start_line]
    delims = next((d for d in _DISPLAY if state.src.startswith(d[0], pos)), None)
    if delims is None:
        return False
    if silent:  # asked whether it may interrupt a paragraph: yes
        return True
    opener, closer = delims
    line, begin, parts, after, closed = start_line, pos + len(opener), [], "", False
    while True:
        text = state.src[begin : state.eMarks[line]]
        at = text.find(closer)
        if at >= 0:
            parts.append(text[:at])
            after, closed = text[at + len(closer) :].strip(), True
            break
        parts.append(text)
        if line + 1 >= end_line or state.isEmpty(line + 1):
            break  # unclosed: LaTeX has no blank lines in display math
        line += 1
        begin = state.bMarks[line] + state.tShift[line]
    token = state.push("math_block", "math", 0)
    token.block, token.content, token.markup = True, "\n".join(parts), opener
    token.map, token.meta = [start_line, line + 1], {"closed": closed}
    state.line = line + 1
    if after:  # "$$x$$ is the answer": the rest of the line is a paragraph of its own
        state.push("paragraph_open", "p", 1).map = [line, line + 1]
        inline = state.push("inline", "", 0)
        inline.content, inline.map, inline.children = after, [line, line + 1], []
        state.push("paragraph_close", "p", -1)
    return True
