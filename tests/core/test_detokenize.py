from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.detokenize import Utf8Stream


def feed_all(pieces: list[bytes]) -> str:
    stream = Utf8Stream()
    return "".join(stream.feed(p) for p in pieces) + stream.flush()


def test_character_split_over_tokens_comes_out_whole():
    data = "🙂".encode()
    stream = Utf8Stream()
    assert [stream.feed(data[i : i + 1]) for i in range(4)] == ["", "", "", "🙂"]


def test_invalid_bytes_become_replacement_characters():
    assert feed_all([b"ok \xff", b"\xfe end"]) == "ok \ufffd\ufffd end"
    assert feed_all([b"cut \xf0\x9f"]) == "cut \ufffd"  # stream ends mid-character


@settings(max_examples=200, deadline=None)
@given(st.text(), st.lists(st.integers(min_value=0, max_value=64), max_size=20))
def test_any_split_of_valid_text_round_trips(text, cuts):
    data = text.encode()
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
    assert feed_all(pieces) == text
