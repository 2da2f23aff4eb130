"""Text-like formats: encodings detected, HTML/CSV/JSON/code kept readable, bad input explained."""

from __future__ import annotations

import json

import pytest

from app.core.documents import extract_file
from app.core.documents.encoding import decode
from app.core.documents.errors import NotText
from tests.core.documents.builders import CHINESE, FRENCH, JAPANESE
from tests.model_files import make_random_bytes


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(FRENCH, "utf-8"), (FRENCH, "utf-16"), (FRENCH, "cp1252"), (JAPANESE, "shift_jis"), (CHINESE, "gb18030"),
     (JAPANESE, "utf-8-sig")],
)
def test_encodings_are_detected(tmp_path, text, encoding):
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    doc = extract_file(path)
    assert doc.ok, doc.error
    assert doc.text == text
    assert doc.lines == text.count("\n") + 1


def test_utf16_bom_is_not_mistaken_for_binary():
    data = "a\tb\nc\r\n".encode("utf-16")
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff") and b"\x00" in data
    assert decode(data)[0] == "a\tb\nc\r\n"


def test_binary_behind_a_text_extension(tmp_path):
    doc = extract_file(make_random_bytes(tmp_path / "data.txt", size=5000))
    assert not doc.ok and doc.error_type == "NotText"
    assert "binary" in doc.error


def test_control_characters_without_nul_are_binary():
    with pytest.raises(NotText):
        decode(bytes(range(1, 32)) * 100)


def test_crlf_becomes_lf(tmp_path):
    path = tmp_path / "a.md"
    path.write_bytes(b"# Title\r\nline two\r\nline three\r\n")
    doc = extract_file(path)
    assert doc.format == "markdown" and doc.text == "# Title\nline two\nline three\n"
    assert doc.location(doc.text.index("line two"), doc.text.index("three")) == "lines 2-3"


def test_html_text_without_markup_or_scripts(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Tides</title><style>p{color:red}</style><script>var x = 1;</script></head>"
        "<body><h1>High&nbsp;tide</h1><p>At <b>6:40</b> &amp; 19:05.</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>",
        encoding="utf-8",
    )
    doc = extract_file(path)
    assert doc.ok and doc.format == "html"
    assert "Tides" in doc.text and "High tide" in doc.text and "At 6:40 & 19:05." in doc.text
    assert "color" not in doc.text and "var x" not in doc.text and "<" not in doc.text
    assert "one\n" in doc.text and "| a | b" in doc.text


def test_csv_tsv_json_and_code_keep_their_text(tmp_path):
    files = {
        "t.csv": "name,age\nAda,36\nAlan,41\n",
        "t.tsv": "name\tage\nAda\t36\n",
        "t.json": json.dumps({"a": [1, 2], "b": "ü"}, indent=2, ensure_ascii=False),
        "t.py": "def f(x):\n    return x + 1\n",
        "Makefile": "all:\n\techo hi\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        doc = extract_file(tmp_path / name)
        assert doc.ok and doc.text == text, name
    assert extract_file(tmp_path / "t.tsv").format == "csv"
    assert extract_file(tmp_path / "t.py").format == "code"


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    doc = extract_file(path)
    assert doc.error_type == "EmptyDocument" and "empty" in doc.error


def test_unknown_format(tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x01")
    doc = extract_file(path)
    assert doc.error_type == "UnsupportedFormat"
    assert "photo.heic" in doc.error and "PDF" in doc.error


def test_size_cap_default_and_changeable(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(51 * 1024 * 1024)  # sparse: no 51 MB written
    doc = extract_file(big)
    assert doc.error_type == "FileTooLarge" and "50 MB" in doc.error
    small = tmp_path / "small.txt"
    small.write_text("x" * 2000)
    assert extract_file(small, max_bytes=1000).error_type == "FileTooLarge"
    assert extract_file(small, max_bytes=5000).ok


def test_missing_path_and_folder(tmp_path):
    missing = extract_file(tmp_path / "gone.txt")
    assert missing.error_type == "DocumentUnreadable" and "gone.txt was not found" in missing.error
    (tmp_path / "dir.txt").mkdir()
    assert "folder" in extract_file(tmp_path / "dir.txt").error


def test_same_bytes_same_hash(tmp_path):
    (tmp_path / "a.txt").write_text("same words")
    (tmp_path / "b.txt").write_text("same words")
    (tmp_path / "c.txt").write_text("other words")
    a, b, c = (extract_file(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt"))
    assert a.sha256 == b.sha256 != c.sha256 and len(a.sha256) == 64


def test_mostly_ascii_cp1252_with_few_accents(tmp_path):
    # Little for detection to go on: a long English text with one accented phrase a line.
    text = "".join(f"Line {i} of the ledger shows the harbour account balance. Café naïve façade — “ok”\n"
                   for i in range(20000))
    path = tmp_path / "ledger.txt"
    path.write_bytes(text.encode("cp1252"))
    doc = extract_file(path)
    assert doc.encoding == "cp1252" and doc.text == text
