"""Blocks too large to render at once (thousands of table rows, code lines, formulas)
render in pieces of a bounded size, whether they stream in or arrive whole, and the
pieces together show (and copy) the whole block."""

from __future__ import annotations

import random
import re

import pytest

from app.render import incremental, markdown
from app.render.incremental import CODE_LINES, PARAGRAPH_CHARS, TABLE_ROWS, IncrementalMarkdown
from app.render.syntax import split_points

TABLE = "Rows:\n\n| n | name | square |\n|---|:--|--:|\n" + "".join(
    f"| {n} | item {n} | {n * n} |\n" for n in range(1, 5001)) + "\nAfter the table.\n"
CODE_LINES_TEXT = "".join(f"    total += step({n})  # line {n}\n" for n in range(1, 5001))
CODE = "Code:\n\n```python\ndef run():\n" + CODE_LINES_TEXT + "```\n\nAfter the code.\n"
FORMULAS = " ".join(f"$x_{{{n}}}$," for n in range(1, 2001))  # one paragraph on one line


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """Every text IncrementalMarkdown parses to find its blocks."""
    texts: list[str] = []
    real = incremental.block_parser

    class Counting:
        def parse(self, text):
            texts.append(text)
            return real().parse(text)

    monkeypatch.setattr(incremental, "block_parser", Counting)
    return texts


def stream(text: str, seed: int = 0, sizes=(3, 40, 400)) -> tuple[IncrementalMarkdown, list[str]]:
    """Stream `text` in random chunks; also return the HTML a view would hold."""
    inc, rng, i, fragments = IncrementalMarkdown(), random.Random(seed), 0, []
    while i < len(text):
        i += rng.choice(sizes)
        update = inc.set_text(text[:i])
        fragments[update.first_changed :] = [b.html for b in update.changed]
    return inc, fragments


def rows(html: str) -> int:
    return html.count("<tr>")


def test_a_streaming_table_renders_and_parses_only_its_last_rows(rendered, parsed):
    inc, fragments = stream(TABLE)
    assert "".join(fragments) == inc.html
    # No render and no parse ever took in more than a piece of rows and a chunk.
    assert max(s.count("\n") for s in rendered) <= TABLE_ROWS + 2 + 400 // 20
    assert max(t.count("\n") for t in parsed) <= TABLE_ROWS + 2 + 400 // 20
    assert rows(inc.html) == 5001  # the header row and every row, once
    assert len(re.findall("<th[ >]", inc.html)) == 3  # the header shows once, in the first piece
    tables = [b for b in inc.blocks if b.part is not None]
    assert len(tables) == -(-5000 // TABLE_ROWS) and all(rows(b.html) <= TABLE_ROWS + 1 for b in tables)
    # Every piece has the same column widths, so the pieces line up as one table.
    assert len({re.findall(r'width="(\d+)%"', b.html)[:3].__repr__() for b in tables}) == 1
    assert "".join(b.source for b in inc.blocks) == TABLE


def test_a_table_that_arrives_whole_is_cut_the_same_way():
    streamed, _ = stream(TABLE, seed=3)
    whole = IncrementalMarkdown()
    whole.set_text(TABLE)
    assert whole.html == streamed.html
    assert [b.source for b in whole.blocks] == [b.source for b in streamed.blocks]


def test_a_small_table_is_one_ordinary_table():
    text = "| a | b |\n|---|---|\n" + "".join(f"| {n} | {n} |\n" for n in range(TABLE_ROWS))
    inc, _ = stream(text)
    assert [b.part for b in inc.blocks] == [None]
    assert inc.html == markdown.render_markdown(text).html


def test_a_long_code_block_shows_in_pieces_and_copies_whole(rendered):
    inc, fragments = stream(CODE)
    assert "".join(fragments) == inc.html
    assert max(s.count("\n") for s in rendered) <= CODE_LINES + 1 + 400 // 20
    assert inc.code_blocks == ["def run():\n" + CODE_LINES_TEXT.removesuffix("\n")]
    assert inc.html.count('href="copy:0"') == 1 and "copy:1" not in inc.html  # one Copy link, for all of it
    assert inc.html.count(">python<") == 1  # the language once, above the first piece
    for n in (1, 2500, 5000):  # every line shows, highlighted
        assert f"line {n}<" in inc.html
    whole = IncrementalMarkdown()
    whole.set_text(CODE)
    assert whole.html == inc.html and whole.code_blocks == inc.code_blocks


def test_code_blocks_after_a_long_one_keep_their_copy_numbers():
    text = "```\n" + "x\n" * (3 * CODE_LINES) + "```\n\n```\nsecond\n```\n"
    inc, _ = stream(text, sizes=(7,))
    assert inc.code_blocks == ["x\n" * (3 * CODE_LINES - 1) + "x", "second"]
    assert '<a href="copy:1">Copy</a>' in inc.blocks[-1].html


def test_a_paragraph_of_thousands_of_formulas_is_cut_between_formulas(rendered, monkeypatch):
    monkeypatch.setattr(markdown, "render_tex", lambda *args, **kwargs: None)  # shown as source: quicker
    inc, fragments = stream(FORMULAS)
    assert "".join(fragments) == inc.html
    pieces = [b for b in inc.blocks if b.part is not None]
    assert len(pieces) > 10
    assert max(len(s) for s in rendered) < 4 * PARAGRAPH_CHARS
    # Each formula is whole in exactly one piece, and shown as one formula.
    for n in (1, 17, 999, 2000):
        assert sum(f"$x_{{{n}}}$" in b.source for b in pieces) == 1
    assert re.findall(r"<code>\$x_\{(\d+)\}\$</code>", inc.html) == [str(n) for n in range(1, 2001)]
    # The pieces sit close together: no margin between them.
    assert all("margin-bottom:0px" in b.html for b in pieces[:-1])
    assert all("margin-top:0px" in b.html for b in pieces[1:])


def test_a_long_ordinary_paragraph_is_left_whole():
    text = "word " * 700  # 3,500 characters
    inc, _ = stream(text)
    assert [b.part for b in inc.blocks] == [None]


@pytest.mark.parametrize("seed", range(3))
def test_a_cut_never_falls_inside_a_link_code_span_or_emphasis(seed):
    rng = random.Random(seed)
    parts = ["[a link that runs on](https://example.org/x)", "`code with spaces`", "*stressed words here*",
             "\\(a + b\\)", "$y_1 + y_2$", "plain words", "more words"]
    text = " ".join(rng.choice(parts) for _ in range(1500))
    inc, _ = stream(text, seed=seed)
    pieces = [b for b in inc.blocks if b.part is not None]
    assert len(pieces) > 5
    html = inc.html
    assert html.count('<a href="https://example.org/x">') == text.count("](https://example.org/x)")
    assert len(re.findall("<code[^>]*>code with spaces</code>", html)) == text.count("`code with spaces`")
    assert html.count("<em>stressed words here</em>") == text.count("*stressed words here*")


def test_split_points_are_between_inline_elements():
    text = "Say [one two](https://a.b) and `x y` with $a b$ then *em ph* done"
    cuts = [text[p:] for p in split_points(text)]
    assert all(not c.startswith(("two", "y`", "b$", "ph*")) for c in cuts)
    assert any(c.startswith("and") for c in cuts) and any(c.startswith("done") for c in cuts)


def test_a_paragraph_with_no_place_to_cut_is_still_cut():
    text = "x" * (20 * PARAGRAPH_CHARS)  # one word: no split point at all
    inc, _ = stream(text, sizes=(500,))
    pieces = [b for b in inc.blocks if b.part is not None]
    assert len(pieces) > 3 and max(len(b.source) for b in pieces) <= 5 * PARAGRAPH_CHARS
    assert "".join(b.source for b in inc.blocks) == text
