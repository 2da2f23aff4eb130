"""Streaming Markdown: re-render only the block still being written.

The text is cut into top-level Markdown blocks (paragraph, list, table, fence, math
block...) from the `map` line ranges markdown-it puts on top-level tokens. Every block
but the last is finished: the dialect (syntax.py) makes a block's extent depend only
on its own lines, so text appended later cannot change it. Finished blocks are frozen
and only the text after them is parsed and rendered again, so the cost of an appended
token depends on the open block's length, not on the message's.

A block too large to render in one go (a table of thousands of rows, thousands of
lines of code, a paragraph of thousands of formulas) is rendered in pieces of a bounded
size (markdown.Part), and each piece is a Block of its own. Pieces of the open block
freeze like finished blocks once text follows them; the rest of that block is parsed
after a little context (a table's header, a fence's first line) that makes it read as
it does inside the block. So an open table costs its last rows per token, not all of
them, and no piece takes long to render or to show.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.render import markdown
from app.render.markdown import Part
from app.render.math import any_ready
from app.render.syntax import block_parser, split_points
from app.render.theme import DEFAULT_TEXT_PX

_LINE_END = re.compile(r"\r\n|\r|\n")  # what markdown-it counts as a line end
_DIGITS = re.compile(r"[ \t]*\d{1,9}")  # may yet become an ordered list marker
# Blocks whose last line a following line can continue (lazily, or as a table row).
_INTERRUPTIBLE = {"paragraph_open", "blockquote_open", "bullet_list_open", "ordered_list_open", "table_open"}

# Piece sizes: each piece renders and shows in a few ms (a table row costs ~0.2 ms to
# render and lay out, a line of highlighted code ~0.1 ms, an inline formula ~0.05 ms).
TABLE_ROWS = 25
CODE_LINES = 40
PARAGRAPH_CHARS = 1000  # pieces of a paragraph over PARAGRAPH_WHOLE characters are about this long
PARAGRAPH_WHOLE = 4000
_PARAGRAPH_AHEAD = 200  # a cut waits for this much text after it (a formula or link may end there)
_DELIMITER = re.compile(r"\$|\\[()]")
_DELIMITER_COST = 12  # so a short inline formula counts like ~30 characters of text
_PARAGRAPH_CONTEXT = "p\n"  # the rest of a cut paragraph reads as more of a paragraph after it
_KINDS = {"table_open": "table", "fence": "code", "paragraph_open": "paragraph"}


@dataclass(frozen=True, slots=True)
class Block:
    source: str
    html: str
    code_blocks: tuple[str, ...]  # its Copy links are "copy:N" for N from code_base on
    images: dict[str, bytes]  # math image key -> PNG, as in RenderedHtml
    code_base: int
    finished: bool  # False for the last block, which may still grow
    math_pending: bool = False  # shows a formula's source until its image is typeset
    waiting: tuple = ()  # those formulas (math.formula_key)
    part: Part | None = None  # a piece of a block rendered in pieces


@dataclass(frozen=True, slots=True)
class Update:
    """What changed since the previous call: blocks[first_changed:] were replaced.

    A view keeps one HTML fragment per block and replaces its fragments from
    `first_changed` on with `changed` (blocks before it are exactly as they were).
    """

    first_changed: int
    changed: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class _Open:
    """The open block already has frozen pieces: the text after them continues it."""

    kind: str
    context: str  # parsed before that text, so that it reads as the rest of the block
    widths: tuple[int, ...] = ()


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
        self._open: _Open | None = None
        self._codes = 0  # code blocks in finished blocks
        self._cache: OrderedDict[tuple, markdown.RenderedHtml] = OrderedDict()
        self._cache_size = cache_size

    # -- input ---------------------------------------------------------------------

    def set_text(self, text: str, *, show_open: bool = True) -> Update:
        """The whole message so far. Usually it extends the last one; if not, start over.

        With show_open=False the open block is left unrendered (its html is empty):
        for a caller that will append more at once, which would render it again."""
        if not text.startswith(self._frozen):
            self.reset()
        return self._update(text[len(self._frozen) :], show_open)

    def append(self, chunk: str, *, show_open: bool = True) -> Update:
        return self._update(self._tail + chunk, show_open)

    def refresh(self, enough: Callable[[], bool] | None = None) -> tuple[tuple[int, Block], ...]:
        """Render again the blocks with a formula typeset since they were rendered;
        (index, new block) for each, to be replaced where it stands. `enough()` is
        asked after each block: True leaves the others for the next call."""
        replaced = []
        for i, old in enumerate(self.blocks):
            if old.waiting and any_ready(old.waiting):
                self.blocks[i] = self._render(old.source, old.code_base, old.finished, old.part)
                replaced.append((i, self.blocks[i]))
                if enough is not None and enough():
                    break
        return tuple(replaced)

    @property
    def math_ready(self) -> bool:
        """Whether some block has a formula typeset since it was rendered (see refresh)."""
        return any(b.waiting and any_ready(b.waiting) for b in self.blocks)

    def reset(self) -> None:
        self.blocks, self._frozen, self._tail, self._open, self._codes = [], "", "", None, 0

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
        codes: list[str] = []
        pieced: list[int] = []  # code blocks put together from pieces (unstripped so far)
        for b in self.blocks:
            if b.part is not None and b.part.kind == "code":
                if b.part.first or not codes:
                    pieced.append(len(codes))
                    codes.append("")
                codes[-1] += "".join(b.code_blocks)
            else:
                codes.extend(b.code_blocks)
        for n in pieced:
            codes[n] = codes[n].removesuffix("\n")
        return codes

    @property
    def images(self) -> dict[str, bytes]:
        return {k: v for b in self.blocks for k, v in b.images.items()}

    # -- work ----------------------------------------------------------------------

    def _update(self, tail: str, show_open: bool = True) -> Update:
        old_open = self.blocks.pop() if self.blocks and not self.blocks[-1].finished else None
        first = len(self.blocks)
        context = self._open.context if self._open else ""
        ranges = _block_ranges(context + tail)
        frozen = 0  # how much of `tail` is in finished blocks now
        for n, (begin, end, kind, own_end) in enumerate(ranges):
            begin, end, own_end = max(begin - len(context), 0), end - len(context), max(own_end - len(context), 0)
            last = n == len(ranges) - 1
            going_on = self._open if n == 0 else None
            if going_on is None:
                self._open = None
            frozen += self._add(tail[begin:end], own_end - begin, _KINDS.get(kind), going_on, not last, show_open)
        self._frozen, self._tail = self._frozen + tail[:frozen], tail[frozen:]
        if not ranges:
            self._open = None
        opened = self.blocks[first:]
        if len(opened) == 1 and old_open is not None and (old_open.source, old_open.part, old_open.html) == (
                opened[0].source, opened[0].part, opened[0].html):
            return Update(len(self.blocks), ())  # nothing changed
        return Update(first, tuple(opened))

    def _add(self, source: str, own: int, kind: str | None, going_on: _Open | None, finished: bool,
             show_open: bool) -> int:
        """Add the block `source` (its first `own` characters are its own lines, the
        rest blank lines after it), in pieces if it is large. Returns how much of it is
        frozen: all of it if `finished`, else its pieces before the last."""
        pieces = self._pieces(source, own, kind, going_on, finished)
        done = 0
        for k, (text, part) in enumerate(pieces):
            piece_finished = finished or k < len(pieces) - 1
            if not piece_finished and not show_open:
                self.blocks.append(Block(text, "", (), {}, self._codes, False, part=part))
                break
            block = self._render(text, self._codes, piece_finished, part)
            self.blocks.append(block)
            if piece_finished:
                done += len(text)
                if part is None or part.first:
                    self._codes += len(block.code_blocks)
        return done

    def _pieces(self, source: str, own: int, kind: str | None, going_on: _Open | None,
                finished: bool) -> list[tuple[str, Part | None]]:
        kind = going_on.kind if going_on else kind
        if kind is None:
            return [(source, None)]
        body, after = source[:own], source[own:]
        if kind == "paragraph":
            cuts = _paragraph_cuts(body, going_on is not None)
            context = _PARAGRAPH_CONTEXT
            widths: tuple[int, ...] = ()
        else:
            lines = _lines(body)
            if going_on is None:
                head = 2 if kind == "table" else 1  # header and delimiter rows; the fence's first line
                size = TABLE_ROWS if kind == "table" else CODE_LINES
                if len(lines) <= head + size:
                    return [(source, None)]
                context = "".join(lines[:head])
                widths = _column_widths(lines[: head + size]) if kind == "table" else ()
                lines = [context + lines[head], *lines[head + 1 :]]  # the first piece starts with it
            else:
                context, widths = going_on.context, going_on.widths
            cuts = _line_cuts(lines, TABLE_ROWS if kind == "table" else CODE_LINES)
        if going_on is None and not cuts:
            return [(source, None)]
        bounds = [0, *cuts, len(body)]
        pieces = []
        for k in range(len(bounds) - 1):
            first = going_on is None and k == 0
            last = k == len(bounds) - 2
            text = body[bounds[k] : bounds[k + 1]] + (after if last else "")
            part = Part(kind, "" if first or kind == "paragraph" else context, first=first, last=last, widths=widths)
            pieces.append((text, part))
        if not finished:
            self._open = _Open(kind, context, widths)
        return pieces

    def _render(self, source: str, code_base: int, finished: bool, part: Part | None = None) -> Block:
        key = (source, code_base, part)
        rendered = self._cache.get(key)
        if rendered is None:
            rendered = markdown.render_markdown(source, self.dark, text_px=self.text_px, code_base=code_base,
                                                math_ready=self._math_ready, part=part)
            if not rendered.math_pending:  # a pending render is only good until the images arrive
                self._cache[key] = rendered
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return Block(source, rendered.html, tuple(rendered.code_blocks), rendered.images, code_base, finished,
                     rendered.math_pending, rendered.waiting, part)


def _lines(text: str) -> list[str]:
    """The lines of `text`, each with its line end (the last may have none)."""
    lines, start = [], 0
    for m in _LINE_END.finditer(text):
        lines.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _line_cuts(lines: list[str], size: int) -> list[int]:
    """Offsets after every `size` lines that have a line after them."""
    cuts, offset = [], 0
    for n, line in enumerate(lines[:-1], 1):
        offset += len(line)
        if n % size == 0:
            cuts.append(offset)
    return cuts


def _paragraph_cuts(text: str, going_on: bool) -> list[int]:
    """Where to cut a paragraph: at a split point after about PARAGRAPH_CHARS, with
    _PARAGRAPH_AHEAD characters after it (a paragraph not yet cut is left whole up to
    PARAGRAPH_WHOLE). Sizes count a formula's delimiters extra (see _Cost). With no
    split point for long, anywhere after a space or, failing that, anywhere: the cost
    of a piece stays bounded whatever the text."""
    cost = _Cost(text)
    if not going_on and cost(0, len(text)) <= PARAGRAPH_WHOLE:
        return []
    limit = len(text) - _PARAGRAPH_AHEAD
    if limit <= 0 or cost(0, limit) < PARAGRAPH_CHARS:
        return []  # (without parsing it for split points)
    cuts, start = [], 0
    points = iter(split_points(text))
    point = next(points, None)
    while True:
        while point is not None and cost(start, point) < PARAGRAPH_CHARS:
            point = next(points, None)
        if point is not None and point <= limit:
            cut = point
        elif limit - start >= 4 * PARAGRAPH_CHARS:  # no split point in sight
            space = text.find(" ", start + PARAGRAPH_CHARS, start + 2 * PARAGRAPH_CHARS)
            cut = space + 1 if space > 0 else start + 2 * PARAGRAPH_CHARS
        else:
            return cuts
        cuts.append(cut)
        start = cut


class _Cost:
    """The size of text[a:b] as it costs to show: each formula delimiter ("$", "\\(",
    "\\)") counts as _DELIMITER_COST characters, as every formula is an image."""

    def __init__(self, text: str) -> None:
        self._delimiters = [m.start() for m in _DELIMITER.finditer(text)]

    def __call__(self, a: int, b: int) -> int:
        inside = bisect.bisect_left(self._delimiters, b) - bisect.bisect_left(self._delimiters, a)
        return b - a + _DELIMITER_COST * inside


def _column_widths(lines: list[str]) -> tuple[int, ...]:
    """Percent of the width for each column, from the header and the first rows
    (the rows of later pieces are not known yet, and must not move the columns)."""
    cells = [_cells(line) for n, line in enumerate(lines) if n != 1]
    columns = len(cells[0]) if cells else 0
    if columns == 0:
        return ()
    sizes = [min(max((len(row[c]) for row in cells if c < len(row)), default=1), 40) + 3 for c in range(columns)]
    total = sum(sizes)
    return tuple(max(1, round(100 * s / total)) for s in sizes)


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def _block_ranges(text: str) -> list[tuple[int, int, str, int]]:
    """(start, end, first token type, end of its own lines) for each top-level block
    of `text`, in character offsets.

    A block runs to the next block's start, so the blank lines after it are its own;
    the last runs to the end of the text, and takes in the block before it while a
    later character could still merge the two (see _may_merge).
    """
    blocks: list[tuple[int, int, str]] = []  # (first line, end line, first token type)
    for token in block_parser().parse(text):
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
    offsets = [0]  # offset of each line's start
    for m in _LINE_END.finditer(text):
        offsets.append(m.end())
    last_line = blocks[-1][0]
    if len(blocks) > 1 and _may_merge(text, offsets, blocks[-2][2], last_line):
        blocks.pop()
        blocks[-1] = (blocks[-1][0], len(offsets), blocks[-1][2])  # its own lines may reach the end
    starts = [offsets[first] for first, _, _ in blocks]
    own_ends = [offsets[end] if end < len(offsets) else len(text) for _, end, _ in blocks]
    return [(s, e, b[2], min(o, e)) for s, e, b, o in zip(starts, [*starts[1:], len(text)], blocks, own_ends)]


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
