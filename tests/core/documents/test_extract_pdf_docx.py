"""PDF and Word files: text with page locations, progress, cancel, and each way they go wrong."""

from __future__ import annotations

import threading

import pytest

from app.core.documents import ExtractionCancelled, extract_file
from app.core.documents.word import check_zip
from tests.core.documents.builders import make_docx, make_docx_bomb, make_image_pdf, make_pdf


def pages(n: int) -> list[str]:
    return [f"Page {i + 1} heading\nalpha{i + 1} beta gamma\nclosing line {i + 1}" for i in range(n)]


def test_pdf_pages_text_and_locations(tmp_path):
    doc = extract_file(make_pdf(tmp_path / "report.pdf", pages(5)))
    assert doc.ok and doc.format == "pdf" and doc.pages == 5
    for i in range(5):
        start = doc.page_starts[i]
        end = doc.page_starts[i + 1] if i < 4 else len(doc.text)
        assert doc.text[start:end].strip().splitlines() == pages(5)[i].splitlines()
    third = doc.text.index("alpha3")
    fourth = doc.text.index("alpha4")
    assert doc.location(third, fourth + 6) == "p. 3-4"
    assert doc.location(third, third + 6) == "p. 3"
    assert doc.describe() == "5 pages"


def test_pdf_progress_counts_pages(tmp_path):
    seen = []
    extract_file(make_pdf(tmp_path / "a.pdf", pages(7)), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 7) for i in range(1, 8)]


def test_pdf_cancel_between_pages(tmp_path):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 3:
            cancel.set()

    with pytest.raises(ExtractionCancelled):
        extract_file(make_pdf(tmp_path / "a.pdf", pages(20)), progress=progress, cancel=cancel)
    assert seen == [1, 2, 3]


def test_encrypted_pdf(tmp_path):
    doc = extract_file(make_pdf(tmp_path / "secret.pdf", pages(2), user_password="pw"))
    assert doc.error_type == "EncryptedDocument" and "password" in doc.error


def test_owner_password_only_still_reads(tmp_path):
    doc = extract_file(make_pdf(tmp_path / "locked.pdf", pages(2), user_password=""))
    assert doc.ok and "alpha2" in doc.text


def test_scanned_pdf_says_no_ocr(tmp_path):
    doc = extract_file(make_image_pdf(tmp_path / "scan.pdf"))
    assert doc.error_type == "NoTextLayer" and "OCR" in doc.error


def test_corrupt_and_truncated_pdf(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\nthis is not really a pdf\n")
    assert extract_file(bad).error_type == "CorruptDocument"
    good = make_pdf(tmp_path / "good.pdf", pages(3)).read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(good[: len(good) // 3])
    doc = extract_file(cut)
    # PDFium may recover some pages of a truncated file; what it must not do is crash.
    assert doc.ok or doc.error_type in ("CorruptDocument", "NoTextLayer")


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    path = make_docx(tmp_path / "memo.docx", ["First paragraph.", "Second — with ünïcode."],
                     table=[["Name", "Age"], ["Ada", "36"]])
    doc = extract_file(path)
    assert doc.ok and doc.format == "docx"
    assert doc.text.splitlines() == ["First paragraph.", "Second — with ünïcode.", "Name | Age", "Ada | 36", "The end."]
    assert doc.location(doc.text.index("Ada"), len(doc.text)) == "lines 4-5"


def test_docx_zip_bomb_is_refused_before_opening(tmp_path):
    path = make_docx_bomb(tmp_path / "bomb.docx")
    assert path.stat().st_size < 2 * 1024 * 1024
    doc = extract_file(path)
    assert doc.error_type == "FileTooLarge" and "zip bomb" in doc.error


def test_zip_cap_is_a_parameter(tmp_path):
    data = make_docx(tmp_path / "m.docx", ["hello"]).read_bytes()
    check_zip(data, "m.docx")
    with pytest.raises(Exception, match="zip bomb"):
        check_zip(data, "m.docx", max_unpacked=1000)


@pytest.mark.parametrize("payload", [b"PK\x03\x04 broken zip", b"just text, not a zip"])
def test_corrupt_docx(tmp_path, payload):
    path = tmp_path / "broken.docx"
    path.write_bytes(payload)
    doc = extract_file(path)
    assert doc.error_type == "CorruptDocument" and "broken.docx" in doc.error


def test_zip_without_document_part(tmp_path):
    import zipfile

    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert "not a Word document" in extract_file(path).error
