"""IncrementalMarkdown: finished blocks are never rendered again, open blocks stay whole,
and what a view assembles from the updates equals a one-shot render."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render import incremental
from app.render.incremental import IncrementalMarkdown
from app.render.markdown import render_markdown

DOC = r"""# Heading

A paragraph with $x^2$ math, `code` and a [link](https://example.org).

| a | b |
|---|--:|
| 1 | $\sqrt{2}$ |

```python
def f(x):

    return x  # blank line above: still the same block
```

$$
\boxed{x = \frac{1}{2}}
$$

1. first
2. second

   continued item

> quote
lazy line

\[ y = 3 \] and more

~~~
second code block
~~~
Final words.
"""


class View:
    """What a view does with updates: one HTML fragment per block, replaced from first_changed on."""

    def __init__(self) -> None:
        self.fragments: list[str] = []
        self.images: dict[str, bytes] = {}

    def apply(self, update: incremental.Update) -> None:
        self.fragments[update.first_changed :] = [b.html for b in update.changed]
        for block in update.changed:
            self.images.update(block.images)

    @property
    def html(self) -> str:
        return "".join(self.fragments)


def stream(text: str, sizes=(1,), seed: int = 0, view: View | None = None) -> IncrementalMarkdown:
    inc, rng, i = IncrementalMarkdown(), random.Random(seed), 0
    while i < len(text):
        i += rng.choice(sizes)
        update = inc.set_text(text[:i])
        if view is not None:
            view.apply(update)
    return inc


@pytest.mark.parametrize("sizes", [(1,), (1, 2, 3, 7), (40,)])
def test_streamed_result_equals_one_shot_render(sizes):
    view = View()
    inc = stream(DOC, sizes, view=view)
    one = render_markdown(DOC)
    assert view.html == inc.html == one.html
    assert inc.code_blocks == one.code_blocks == ["def f(x):\n\n    return x  # blank line above: still the same block",
                                                  "second code block"]
    assert view.images == inc.images == one.images
    assert all(b.finished for b in inc.blocks[:-1]) and not inc.blocks[-1].finished
    # Block by block: each block's HTML is the one-shot render of its source.
    base = 0
    for block in inc.blocks:
        assert block.html == render_markdown(block.source, code_base=base).html
        base += len(block.code_blocks)


def test_finished_blocks_are_not_rendered_again(rendered):
    inc = IncrementalMarkdown()
    text = "# Title\n\nFirst paragraph.\n\nSecond paragraph grows"
    for i in range(1, len(text) + 1):
        inc.set_text(text[: i])
    assert [b.source for b in inc.blocks] == ["# Title\n\n", "First paragraph.\n\n", "Second paragraph grows"]
    done = len(rendered)
    for word in " token by token, for a long time".split(" "):
        inc.append(" " + word)
    later = rendered[done:]
    assert len(later) == 8  # one render per append: the open block only
    assert all(src.startswith("Second paragraph grows") for src in later)
    # While streaming, a finished block's own render was requested once at most.
    assert rendered.count("# Title\n\n") <= 1 and rendered.count("First paragraph.\n\n") <= 1


def test_cost_per_token_does_not_grow_with_the_message(rendered, monkeypatch):
    parsed: list[int] = []
    real_parser = incremental.block_parser

    class CountingParser:
        def parse(self, text):
            parsed.append(len(text))
            return real_parser().parse(text)

    monkeypatch.setattr(incremental, "block_parser", CountingParser)
    paragraph = "Some words and $x_1$ math in a sentence that goes on. " * 4
    text = "\n\n".join(f"- {paragraph}" if n % 3 == 1 else f"Paragraph {n}. {paragraph}" for n in range(60))
    inc = IncrementalMarkdown()
    per_step = []
    for i in range(0, len(text), 5):
        before_r, before_p = len(rendered), len(parsed)
        inc.set_text(text[: i + 5])
        per_step.append(sum(map(len, rendered[before_r:])) + sum(parsed[before_p:]))
    assert len(text) > 10_000
    # Work per token: parsing and rendering the open block (at times with the block
    # before it, while a new one starts), never the message so far.
    assert max(per_step) < 4 * (len(paragraph) + 20)
    tenth = len(per_step) // 10
    assert sum(per_step[-tenth:]) < 1.5 * sum(per_step[:tenth])


def test_open_code_fence_is_one_block_until_it_closes():
    inc = IncrementalMarkdown()
    inc.set_text("Intro\n\n```python\nx = 1\n\n# not a heading\n\n- not a list\n")
    assert len(inc.blocks) == 2 and inc.blocks[0].finished and not inc.blocks[1].finished
    assert inc.blocks[1].source.startswith("```python") and "- not a list" in inc.blocks[1].source
    assert "<h1>" not in inc.html and "<li>" not in inc.html
    assert inc.code_blocks == ["x = 1\n\n# not a heading\n\n- not a list"]
    update = inc.append("```\nAfter.")
    assert update.first_changed == 1 and [b.finished for b in update.changed] == [True, False]
    assert inc.blocks[1].source.endswith("```\n") and inc.blocks[2].source == "After."


def test_open_display_math_is_one_block_until_it_closes():
    inc = IncrementalMarkdown()
    inc.set_text("Before.\n\n$$\na = b\n- c\n> d")
    assert [b.source for b in inc.blocks] == ["Before.\n\n", "$$\na = b\n- c\n> d"]
    assert "<li>" not in inc.html and "<blockquote" not in inc.html and "<img" not in inc.blocks[1].html
    inc.append("\n$$\n\nAfter.")
    assert inc.blocks[1].finished and '<p align="center"><img src="math:' in inc.blocks[1].html


def test_updates_name_only_what_changed():
    inc = IncrementalMarkdown()
    first = inc.set_text("One.\n\nTw")
    assert first.first_changed == 0 and len(first.changed) == 2
    grow = inc.set_text("One.\n\nTwo")
    assert grow.first_changed == 1 and [b.source for b in grow.changed] == ["Two"]
    same = inc.set_text("One.\n\nTwo")
    assert same.first_changed == 2 and same.changed == ()
    rewritten = inc.set_text("Other.")  # not an extension (the text moved elsewhere): start over
    assert rewritten.first_changed == 0 and [b.source for b in rewritten.changed] == ["Other."]


def test_copy_links_are_numbered_across_blocks():
    inc = stream("```\na\n```\n\ntext\n\n```\nb\n```\n\n```\nc\n```\n")
    assert inc.code_blocks == ["a", "b", "c"]
    assert [b.code_base for b in inc.blocks] == [0, 1, 1, 2]
    for n in range(3):
        assert f'<a href="copy:{n}">Copy</a>' in inc.html


def test_a_list_can_still_take_in_an_item_being_typed():
    # "2" alone is a paragraph, "2." an item of the list above: the list stays open.
    view = View()
    text = "1. one\n\n2. two\n\nafter"
    stream(text, view=view)
    assert view.html == render_markdown(text).html and view.html.count("<ol>") == 1


def test_a_line_that_may_stop_interrupting_keeps_the_block_above_open():
    # "#" is a heading that ends the paragraph; "#x" is a continuation line of it.
    for text in ["para\n#x more\n", "para\n***x\n", "> quote\n#y\n", "para\n| a | b |\n|---|-x\n"]:
        view = View()
        stream(text, view=view)
        assert view.html == render_markdown(text).html, text


FRAGMENTS = ["# Head", "para text", "", "", "- item", "  - nested", "1. one", "2", "2) two", "> quote", "lazy",
             "```py", "```", "~~~", "    indented", "$$", "x^2", "$$ a $$", "\\[", "\\]", "\\[ y \\] tail",
             "| a | b |", "|---|---|", "| 1 | 2 |", "===", "---", "***x", "#", "#x", "text $x$ and \\(y\\)"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12),
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
)
def test_any_document_streamed_in_any_chunks_matches_one_shot(lines, sizes):
    text = "\n".join(lines)
    view = View()
    inc = stream(text, tuple(sizes), view=view)
    one = render_markdown(text)
    assert view.html == one.html
    assert inc.code_blocks == one.code_blocks


def test_new_formulas_are_typeset_off_the_caller_thread():
    import threading
    import uuid

    from app.render.math import wait_idle

    calls = []
    inc = IncrementalMarkdown(math_ready=lambda: calls.append(threading.current_thread().name))
    unique = f"x_{{{uuid.uuid4().int % 10**9}}}"  # never typeset before in this process
    update = inc.set_text(f"Before.\n\n$${unique}$$\n\nAfter $a+b$ too.\n")
    pending = [b for b in update.changed if b.math_pending]
    assert pending and unique in pending[0].html and "math:" not in pending[0].html
    assert wait_idle()
    assert calls and all(name.startswith("typeset") for name in calls)
    refreshed = inc.refresh()
    # Only the blocks that were waiting for a formula, each where it stands.
    assert [i for i, _ in refreshed] == [i for i, b in enumerate(inc.blocks) if "math:" in b.html] == [1, 2]
    assert [b for _, b in refreshed] == inc.blocks[1:3]
    assert not any(b.math_pending for b in inc.blocks)
    assert '<p align="center"><img src="math:' in inc.html and unique not in inc.html
    assert inc.refresh() == ()  # nothing left to do
    # The same formula again is ready at once, with no new request.
    again = IncrementalMarkdown(math_ready=lambda: calls.append("again"))
    assert not any(b.math_pending for b in again.set_text(f"$${unique}$$\n").changed)
