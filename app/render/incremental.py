"""Streaming Markdown: re-render only the block still being written.

The text is cut into top-level Markdown blocks (paragraph, list, table, fence, math
block...) from the `map` line ranges markdown-it puts on top-level tokens. Every block
but the last is finished: the dialect (syntax.py) makes a block's extent depend only
on its own lines, so text appended later cannot change it. Finished blocks are frozen
and only the text after them is parsed and rendered again, so the cost of an appended
token depends on the open block's length, not on the message's.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.render import markdown
from app.render.syntax import parser
from app.render.theme import DEFAULT_TEXT_PX

_LINE_END = re.compile(r"\r\n|\r|\n")  # what markdown-it counts as a line end
_DIGITS = re.compile(r"[ \t]*\d{1,9}")  # may yet become an ordered list marker
# Blocks whose last line a following line can continue (lazily, or as a table row).
_INTERRUPTIBLE = {"paragraph_open", "blockquote_open", "bullet_list_open", "ordered_list_open", "table_open"}


@dataclass(frozen=True, slots=True)
class Block:
    source: str
    html: str
    code_blocks: tuple[str, ...]  # its Copy links are "copy:N" for N from code_base on
    images: dict[str, bytes]  # math image key -> PNG, as in RenderedHtml
    code_base: int
    finished: bool  # False for the last block, which may still grow
    math_pending: bool = False  # shows a formula's source until its image is typeset


@dataclass(frozen=True, slots=True)
class Update:
    """What changed since the previous call: blocks[first_changed:] were replaced.

    A view keeps one HTML fragment per block and replaces its fragments from
    `first_changed` on with `changed` (blocks before it are exactly as they were).
    """

    first_changed: int
    changed: tuple[Block, ...]


class IncrementalMarkdown:
    def __init__(self, dark: bool = False, *, text_px: float = DEFAULT_TEXT_PX, cache_size: int = 256,
                 math_ready: Callable[[], None] | None = None) -> None:
        """With `math_ready`, new formulas are typeset off this thread (see
        render_markdown); call `refresh()` after `math_ready()` to put the images in."""
        self.dark, self.text_px = dark, text_px
        self._math_ready = math_ready
        self.blocks: list[Block] = []
        self._frozen = ""  # the text the finished blocks came from
        self._tail = ""  # the text after it
        self._codes = 0  # code blocks in finished blocks
        self._cache: OrderedDict[tuple[str, int], markdown.RenderedHtml] = OrderedDict()
        self._cache_size = cache_size

    # -- input ---------------------------------------------------------------------

    def set_text(self, text: str) -> Update:
        """The whole message so far. Usually it extends the last one; if not, start over."""
        if not text.startswith(self._frozen):
            self.reset()
        return self._update(text[len(self._frozen) :])

    def append(self, chunk: str) -> Update:
        return self._update(self._tail + chunk)

    def refresh(self) -> Update:
        """Render again the blocks whose formulas were still being typeset (and, as an
        Update replaces everything from its first block on, the blocks after them)."""
        first = next((i for i, b in enumerate(self.blocks) if b.math_pending), None)
        if first is None:
            return Update(len(self.blocks), ())
        for i in range(first, len(self.blocks)):
            old = self.blocks[i]
            if old.math_pending:
                self.blocks[i] = self._render(old.source, old.code_base, old.finished)
        return Update(first, tuple(self.blocks[first:]))

    def reset(self) -> None:
        self.blocks, self._frozen, self._tail, self._codes = [], "", "", 0

    # -- output --------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._frozen + self._tail

    @property
    def html(self) -> str:
        return "".join(b.html for b in self.blocks)

    @property
    def code_blocks(self) -> list[str]:
        """Raw code per Copy link: "copy:N" copies code_blocks[N]."""
        return [code for b in self.blocks for code in b.code_blocks]

    @property
    def images(self) -> dict[str, bytes]:
        return {k: v for b in self.blocks for k, v in b.images.items()}

    # -- work ----------------------------------------------------------------------

    def _update(self, tail: str) -> Update:
        old_open = self.blocks.pop() if self.blocks and not self.blocks[-1].finished else None
        first = len(self.blocks)
        ranges = _block_ranges(tail)
        for begin, end in ranges[:-1]:  # followed by another block: finished
            block = self._block(tail[begin:end], finished=True)
            self.blocks.append(block)
            self._codes += len(block.code_blocks)
        if ranges:
            cut = ranges[-1][0]
            if len(ranges) > 1:
                self._frozen, tail, cut = self._frozen + tail[:cut], tail[cut:], 0
            self.blocks.append(self._block(tail[cut:], finished=False))
        self._tail = tail
        if len(self.blocks) == first + 1 and old_open is not None and old_open.source == self.blocks[-1].source:
            return Update(len(self.blocks), ())  # nothing changed
        return Update(first, tuple(self.blocks[first:]))

    def _block(self, source: str, finished: bool) -> Block:
        return self._render(source, self._codes, finished)

    def _render(self, source: str, code_base: int, finished: bool) -> Block:
        key = (source, code_base)
        rendered = self._cache.get(key)
        if rendered is None:
            rendered = markdown.render_markdown(source, self.dark, text_px=self.text_px, code_base=code_base,
                                                math_ready=self._math_ready)
            if not rendered.math_pending:  # a pending render is only good until the images arrive
                self._cache[key] = rendered
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return Block(source, rendered.html, tuple(rendered.code_blocks), rendered.images, code_base, finished,
                     rendered.math_pending)


def _block_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the top-level blocks of `text`.

    A block runs to the next block's start, so the blank lines after it are its own;
    the last runs to the end of the text, and takes in the block before it while a
    later character could still merge the two (see _may_merge).
    """
    blocks: list[tuple[int, int, str]] = []  # (first line, end line, first token type)
    for token in parser().parse(text):
        if token.level != 0 or token.map is None or token.nesting < 0:
            continue
        start, end = token.map
        if blocks and start < blocks[-1][1]:
            # A token inside the previous block's lines (the text after a closing $$
            # on the same line becomes a paragraph): one block.
            blocks[-1] = (blocks[-1][0], max(end, blocks[-1][1]), blocks[-1][2])
        else:
            blocks.append((start, end, token.type))
    if not blocks:
        return []
    offsets = [0]  # offset of each line's start, up to the last block's first line
    last_line = blocks[-1][0]
    for m in _LINE_END.finditer(text):
        if len(offsets) > last_line:
            break
        offsets.append(m.end())
    if len(blocks) > 1 and _may_merge(text, offsets, blocks[-2][2], last_line):
        blocks.pop()
    starts = [offsets[first] for first, _, _ in blocks]
    return list(zip(starts, [*starts[1:], len(text)]))


def _may_merge(text: str, offsets: list[int], prev_type: str, line: int) -> bool:
    """Whether more text could still make the block starting at `line` part of the one
    before it (whose first token is `prev_type`).

    After a blank line only a list can take in what follows, and only once "2" has
    become "2." or "2)". Straight after a paragraph, quote, list or table, the next
    block interrupts it; until its first two lines are complete, more characters may
    undo that ("#" is a heading, "#x" a continuation line; a table needs a delimiter
    row whose columns match).
    """
    rest = text[offsets[line] :]
    complete = len(_LINE_END.findall(rest, 0, _nth_line_end(rest, 2)))
    if not text[offsets[line - 1] : offsets[line]].strip():  # a blank line between them
        return complete == 0 and _DIGITS.fullmatch(rest) is not None
    return prev_type in _INTERRUPTIBLE and complete < 2


def _nth_line_end(text: str, n: int) -> int:
    for k, m in enumerate(_LINE_END.finditer(text), 1):
        if k == n:
            return m.end()
    return len(text)
