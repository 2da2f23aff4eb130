"""AnswerView: a long answer shows over several event-loop turns, formula images that
arrive together cost one render, and a block replaced in place leaves the document as
a fresh render would."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextDocument

from app.render import incremental
from app.render.incremental import TABLE_ROWS, IncrementalMarkdown
from app.render.math import wait_idle
from app.ui.chat import answer_view
from app.ui.chat.answer_view import STEP_LINES, AnswerView

TABLE = "| n | square |\n|---|---|\n" + "".join(f"| {n} | {n * n} |\n" for n in range(1, 5001)) + "\nDone.\n"


def fresh_formulas(count: int) -> list[str]:
    """Formulas this process has never typeset (so each one goes to the typesetter)."""
    tag = uuid.uuid4().int % 10**9
    return [f"x_{{{n}}}^{{{tag}}}" for n in range(count)]


@pytest.fixture
def view(qtbot) -> AnswerView:
    v = AnswerView()
    qtbot.addWidget(v)
    return v


def test_a_hundred_images_arriving_in_one_frame_cost_one_render(view, qtbot, rendered, monkeypatch):
    monkeypatch.setattr(answer_view, "MATH_TURN_MS", 60_000)  # (the per-turn bound has its own test)
    refreshes = []
    real_refresh = IncrementalMarkdown.refresh
    monkeypatch.setattr(IncrementalMarkdown, "refresh",
                        lambda self, enough=None: refreshes.append(1) or real_refresh(self, enough))
    text = "Intro.\n\n" + " and ".join(f"${tex}$" for tex in fresh_formulas(100)) + ".\n\nAfter.\n"
    for start in range(0, len(text), 500):  # as it streams: each piece shown at once
        view.append_markdown(text[start : start + 500])
    assert view.math_pending
    rendered_before = len(rendered)
    assert wait_idle()  # all 100 typeset while this thread is busy: their signals queue up
    qtbot.waitUntil(lambda: not view.math_pending, timeout=10000)
    assert len(refreshes) == 1
    # The paragraph's blocks (it is long enough to be cut in pieces), each rendered once.
    assert "".join(rendered[rendered_before:]) == text[len("Intro.\n\n") : -len("After.\n")]
    assert view.toHtml().count('src="math:') == 100


def test_images_put_in_place_leave_the_document_as_a_fresh_render(view, qtbot):
    formulas = fresh_formulas(3)
    text = (f"# Head\n\nFirst ${formulas[0]}$ here.\n\n| a | b |\n|---|---|\n| ${formulas[1]}$ | 2 |\n\n"
            "```python\nx = 1\n```\n\n" f"$${formulas[2]}$$\n\nLast words.\n")
    view.set_markdown(text)
    assert view.math_pending
    qtbot.waitUntil(lambda: not view.math_pending, timeout=20000)
    again = AnswerView()  # the same answer, every formula ready: rendered in one go
    qtbot.addWidget(again)
    again.set_markdown(text)
    assert not again.math_pending
    assert view.toHtml() == again.toHtml()
    assert view.block_count == again.block_count == 6


def test_a_table_of_thousands_of_rows_shows_over_many_turns(view, qtbot, monkeypatch):
    rows_per_turn: list[int] = []
    real_update = IncrementalMarkdown._update

    def update(self, tail, show_open=True):
        result = real_update(self, tail, show_open)
        rows_per_turn.append(sum(b.html.count("<tr>") for b in result.changed))
        return result

    monkeypatch.setattr(IncrementalMarkdown, "_update", update)
    view.set_markdown(TABLE)
    assert not view.settled  # the rest comes in later turns
    assert view.toHtml().count("<tr>") <= STEP_LINES
    qtbot.waitUntil(lambda: view.settled, timeout=60000)
    assert len(rows_per_turn) >= 5000 // STEP_LINES
    assert max(rows_per_turn) <= STEP_LINES + TABLE_ROWS + 1
    assert view.toHtml().count("<tr>") == 5001 and view.markdown() == TABLE
    assert view.toPlainText().rstrip().endswith("Done.")


def test_text_streamed_while_a_long_answer_is_still_showing_joins_the_end(view, qtbot):
    view.set_markdown(TABLE[:60000])
    view.append_markdown(TABLE[60000:])
    assert view.markdown() == TABLE
    qtbot.waitUntil(lambda: view.settled, timeout=60000)
    assert view.toHtml().count("<tr>") == 5001


def test_a_new_answer_replaces_one_still_showing(view, qtbot):
    view.set_markdown(TABLE)
    view.set_markdown("Short.")
    assert view.settled and view.markdown() == "Short."
    qtbot.wait(50)  # a step left scheduled would bring the table back
    assert view.toPlainText().strip() == "Short." and view.markdown() == "Short."


def test_copy_of_a_long_code_block_copies_all_of_it(view, qtbot):
    code = "\n".join(f"print({n})" for n in range(1000))
    view.set_markdown(f"```python\n{code}\n```\n")
    qtbot.waitUntil(lambda: view.settled, timeout=60000)
    assert view.toHtml().count('href="copy:') == 1
    view.anchorClicked.emit(QUrl("copy:0"))
    assert QGuiApplication.clipboard().text() == code


def test_each_math_image_is_decoded_once(view, qtbot, monkeypatch):
    added: list[str] = []
    real = QTextDocument.addResource
    monkeypatch.setattr(answer_view.QTextDocument, "addResource",
                        lambda doc, kind, url, value: added.append(url.toString()) or real(doc, kind, url, value))
    tex = fresh_formulas(1)[0]
    view.set_markdown(f"${tex}$ and $a$\n\nmore $a$ and $b$ {'words ' * 20}")
    for word in range(30):
        view.append_markdown(f" w{word}")
    qtbot.waitUntil(lambda: not view.math_pending, timeout=20000)
    assert len(added) == len(set(added)) == 3
    assert incremental  # (the module under the view)


def test_images_for_many_blocks_go_in_over_several_turns(view, qtbot, monkeypatch):
    turns: list[int] = []
    real_refresh = IncrementalMarkdown.refresh

    def refresh(self, enough=None):
        replaced = real_refresh(self, lambda: True)  # as if each block used up a turn's time
        turns.append(len(replaced))
        return replaced

    monkeypatch.setattr(IncrementalMarkdown, "refresh", refresh)
    formulas = fresh_formulas(5)
    view.set_markdown("".join(f"Step ${tex}$.\n\n" for tex in formulas))
    assert wait_idle()
    qtbot.waitUntil(lambda: not view.math_pending, timeout=10000)
    assert turns == [1, 1, 1, 1, 1]  # one block a turn, and the timer comes back for the rest
    assert view.toHtml().count('src="math:') == 5


def test_setting_more_of_the_same_answer_adds_to_it(view, qtbot, rendered):
    view.set_markdown("First paragraph.\n\nSecond")
    before = len(rendered)
    view.set_markdown("First paragraph.\n\nSecond one.")
    assert rendered[before:] == ["Second one."]  # the finished paragraph is not rendered again
    assert view.toPlainText().split() == ["First", "paragraph.", "Second", "one."]
