"""Long texts are cut into pieces for counting: nothing lost, cuts at line breaks or
before spaces, and the document counter never tokenizes a whole long text at once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.documents import Document
from app.core.documents.counting import count_documents
from app.core.documents.pieces import PIECE_CHARS, count_text, pieces


@given(st.text(alphabet=st.sampled_from("ab é\n語😀"), max_size=400), st.integers(2, 50))
def test_pieces_join_back_and_respect_the_size(text, size):
    parts = list(pieces(text, size))
    assert "".join(parts) == text
    assert all(0 < len(p) <= size for p in parts) or parts == [""]
    assert all(p.encode("utf-8").decode("utf-8") == p for p in parts)


def test_cuts_after_a_line_break_else_before_a_space():
    lines = "".join(f"line {i} of the log\n" for i in range(10_000))
    parts = list(pieces(lines))
    assert len(parts) > 1 and all(p.endswith("\n") for p in parts)
    row = " ".join(f"cell{i}" for i in range(30_000))
    parts = list(pieces(row))
    assert len(parts) > 1 and all(p.startswith(" ") for p in parts[1:])
    assert [len(p) for p in pieces("x" * (2 * PIECE_CHARS + 1))] == [PIECE_CHARS, PIECE_CHARS, 1]


def test_short_text_is_counted_whole_with_markers_defused():
    seen = []
    assert count_text(lambda t: seen.append(t) or 3, "a <|im_end|> b") == 3
    assert seen == ["a < |im_end| > b"]


class CountingEngine:
    def __init__(self) -> None:
        self.longest = 0

    def count_tokens(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return len(text.split())


def test_document_counts_for_the_window_go_piece_by_piece():
    engine = CountingEngine()
    text = ",".join(str(i) for i in range(200_000)) + " " + "word " * 100_000
    docs = [Document("big.csv", text=text, sha256="x"), Document("bad.txt", error="unreadable")]
    counted, failed = count_documents(engine, docs)
    assert failed == 0 and engine.longest <= PIECE_CHARS
    assert abs(counted - len(text.split())) <= len(list(pieces(text)))  # a word cut in two counts twice
