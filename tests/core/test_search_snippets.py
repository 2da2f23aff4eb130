"""Where a thread search matched: title spans, message snippets, and the store's bounded query."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from app.core.search_snippets import make_snippet, match_spans
from app.core.store import Store


def test_spans_fold_ascii_case_like_sqlite_and_nothing_else():
    assert match_spans("The theme, THE end", "the") == [(0, 3), (4, 7), (11, 14)]
    assert match_spans("ÉTÉ été", "été") == [(4, 7)]  # LIKE folds ASCII only: so does the list
    assert match_spans("anything", "") == []
    assert len(match_spans("a" * 10_000, "a")) == 32


def test_a_snippet_is_one_line_around_the_match_with_ellipses_where_cut():
    text = "word " * 30 + "The\n\nanswer   is 42." + " more" * 40
    snippet = make_snippet(text, "answer is", cut_before=False, cut_after=True)
    assert "\n" not in snippet.text and snippet.text.startswith("…") and snippet.text.endswith("…")
    assert snippet.text[snippet.start:snippet.end] == "answer is"
    assert snippet.text[1:].startswith("word ")  # starts at a word
    assert len(snippet.text) < 140


@given(st.text(alphabet=string.ascii_letters + " \n\té…", max_size=300),
       st.text(alphabet="abAB ", min_size=1, max_size=5), st.booleans(), st.booleans())
def test_the_marked_span_is_always_the_match(text, query, before, after):
    snippet = make_snippet(text, query, before, after)
    assert 0 <= snippet.start <= snippet.end <= len(snippet.text)
    if snippet.end > snippet.start:
        assert snippet.text[snippet.start:snippet.end].lower() == " ".join(query.split()).lower()


def test_store_snippets_come_from_messages_when_the_title_does_not_match(tmp_path):
    with Store(tmp_path / "chat.db") as store:
        by_title = store.create_thread("Wavelength of light")
        store.add_message(by_title.id, None, "user", "and wavelength in the body too")
        by_answer = store.create_thread("Colours")
        question = store.add_message(by_answer.id, None, "user", "Why is the sky blue?")
        huge = "x " * 500_000 + "short WAVELENGTH scatters" + " y" * 1000
        store.add_message(by_answer.id, question.id, "assistant", huge, reasoning="wavelength in thinking comes second")
        by_thinking = store.create_thread("Rainbows")
        store.add_message(by_thinking.id, None, "assistant", "no match here", reasoning="think of the wavelength")
        gone = store.create_thread("Deleted")
        store.add_message(gone.id, None, "user", "wavelength")
        store.delete_thread(gone.id)
        percent = store.create_thread("Literal")
        store.add_message(percent.id, None, "user", "100% sure")

        snippets = store.search_snippets("wavelength")
        assert set(snippets) == {by_answer.id, by_thinking.id}
        assert {t.id for t in store.list_threads("wavelength")} == {by_title.id, by_answer.id, by_thinking.id}
        answer = snippets[by_answer.id]
        assert answer.text[answer.start:answer.end] == "WAVELENGTH"  # the answer's, not the thinking's
        assert answer.text.startswith("…") and answer.text.endswith("…") and len(answer.text) < 200
        thinking = snippets[by_thinking.id]
        assert thinking.text == "think of the wavelength" and thinking.text[thinking.start:] == "wavelength"
        assert set(store.search_snippets("0%")) == {percent.id}  # % is literal, as in list_threads
        assert set(store.search_snippets("%")) == {percent.id}
        assert store.search_snippets("   ") == {}


def test_a_snippet_reads_as_text_without_markdown_marks():
    from app.core.search_snippets import make_snippet

    s = make_snippet("## Result\nThe answer is **forty-two**, see `code`.", "forty", False, False)
    assert "**" not in s.text and "`" not in s.text and "#" not in s.text
    assert s.text[s.start:s.end] == "forty"
    kept = make_snippet("Use **bold** like this", "**bold**", False, False)
    assert kept.text[kept.start:kept.end] == "**bold**"
