"""Chunks cover the text in order, with no gap and no more overlap than configured."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.documents.chunking import chunk_documents, chunk_spans
from app.core.documents.model import Document

texts = st.text(alphabet=st.sampled_from("ab \n.xyz"), min_size=0, max_size=3000)


@given(texts, st.integers(20, 400), st.data())
@settings(max_examples=200, deadline=None)
def test_spans_cover_text_without_gaps(text, size, data):
    overlap = data.draw(st.integers(0, size // 2 - 1))
    spans = chunk_spans(text, size, overlap)
    if not text:
        assert spans == []
        return
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < s2 <= e1 < e2  # moves forward, never leaves a gap
        assert e1 - s2 <= overlap
    assert all(0 < e - s <= size for s, e in spans)


@given(st.lists(st.text(alphabet="abc \n", min_size=1, max_size=300), min_size=1, max_size=12))
@settings(max_examples=100, deadline=None)
def test_page_locations_are_monotonic(page_texts):
    text, starts = "", []
    for t in page_texts:
        starts.append(len(text))
        text += t + "\n\n"
    doc = Document("a.pdf", text=text, page_starts=tuple(starts))
    spans = chunk_spans(text, 50, 10)
    units = [doc.span_units(s, e) for s, e in spans]
    assert all(first <= last for first, last in units)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(units, units[1:]))
    assert units[0][0] == 1 and units[-1][1] == len(page_texts)


def test_breaks_at_lines_and_line_locations():
    text = "".join(f"line {i:03d} of the file\n" for i in range(1, 201))  # 21 chars a line
    doc = Document("a.txt", text=text)
    spans = chunk_spans(text, 420, 42)
    assert all(text[e - 1] == "\n" for s, e in spans[:-1])
    assert doc.location(*spans[0]) == "lines 1-20"
    assert doc.location(*spans[1]) == "lines 20-39"  # the overlap repeats whole line 20


def test_chunk_documents_numbers_by_document():
    chunks = chunk_documents(["a " * 100, "b " * 10], 60, 10)
    assert {c.doc for c in chunks} == {0, 1}
    assert [c.index for c in chunks if c.doc == 1] == [0]


@pytest.mark.parametrize(("size", "overlap"), [(1, 0), (100, 50), (100, -1)])
def test_bad_sizes_are_refused(size, overlap):
    with pytest.raises(ValueError):
        chunk_spans("text", size, overlap)
