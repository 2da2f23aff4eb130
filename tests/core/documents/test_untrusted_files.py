"""Files that are not what their names say, or that ask for unbounded work: refused
with a reason, quickly. Anything that used to hang runs in a subprocess with a timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import zipfile

import pytest

from app.core.documents import ExtractionJob, extract_file
from app.core.documents import pdf as pdf_reader
from tests.core.documents.builders import make_docx, make_docx_xml_edit, make_many_pages_pdf, make_pdf

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes by file name are POSIX")


def run_python(code: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter; a hang fails the test at `timeout` instead of stalling it."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, check=True, env=os.environ.copy())


@needs_fifo
def test_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    proc = run_python(f"""
        from app.core.documents import ExtractionJob, extract_file
        print(extract_file({str(fifo)!r}).error)
        # The window's path: a store lookup by content first.
        print(ExtractionJob([{str(fifo)!r}], known=lambda sha: None).run()[0].error)
    """)
    first, second = proc.stdout.splitlines()
    assert first == second == "notes.txt is not a regular file (it is a named pipe); Ponder reads only ordinary files."


@needs_fifo
@pytest.mark.parametrize("name", ["report.pdf", "letter.docx", "page.html"])
def test_named_pipe_is_refused_for_every_format(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    proc = run_python(f"from app.core.documents import extract_file; print(extract_file({str(fifo)!r}).error_type)")
    assert proc.stdout.strip() == "DocumentUnreadable"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs a character device")
def test_device_behind_a_text_name(tmp_path):
    link = tmp_path / "zeros.txt"
    link.symlink_to("/dev/zero")
    doc = extract_file(link)
    assert doc.error_type == "DocumentUnreadable"
    assert doc.error == "zeros.txt is not a regular file (it is a device); Ponder reads only ordinary files."


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_socket_behind_a_text_name(tmp_path):
    path = tmp_path / "s.txt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        doc = extract_file(path)
    assert doc.error_type == "DocumentUnreadable" and "s.txt is not a regular file (it is a socket)" in doc.error


def test_missing_file_says_not_found(tmp_path):
    doc = ExtractionJob([tmp_path / "never there.md"]).run()[0]
    assert doc.error_type == "DocumentUnreadable"
    assert doc.error.startswith("never there.md was not found") and "no longer" not in doc.error


def test_a_regular_file_still_reads_through_a_link(tmp_path):
    target = tmp_path / "real.md"
    target.write_text("# Heading\nbody\n", encoding="utf-8")
    (tmp_path / "link.md").symlink_to(target)
    doc = extract_file(tmp_path / "link.md")
    assert doc.ok and doc.text == "# Heading\nbody\n" and doc.name == "link.md"


def test_pdf_with_too_many_pages_is_refused_before_reading_them(tmp_path):
    path = make_many_pages_pdf(tmp_path / "huge.pdf", pdf_reader.MAX_PAGES + 1)
    pages_read = []
    doc = extract_file(path, progress=lambda done, total: pages_read.append(done))
    assert doc.error_type == "FileTooLarge" and f"{pdf_reader.MAX_PAGES + 1:,} pages" in doc.error
    assert pages_read == []


def test_pdf_text_has_a_ceiling(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_reader, "MAX_TEXT_CHARS", 30)
    doc = extract_file(make_pdf(tmp_path / "long.pdf", ["first page words", "second page words", "third"]))
    assert doc.error_type == "FileTooLarge" and "by page 2" in doc.error


def test_docx_cell_spanning_two_billion_columns_is_read_once(tmp_path):
    path = make_docx_xml_edit(tmp_path / "wide.docx", ["Before."], [["a1", "b1"], ["a2", "b2"]],
                              lambda xml: xml.replace("<w:tcPr>", '<w:tcPr><w:gridSpan w:val="2000000000"/>', 1))
    proc = run_python(f"from app.core.documents import extract_file; print(repr(extract_file({str(path)!r}).text))")
    assert proc.stdout.strip() == repr("Before.\na1 | b1\na2 | b2\nThe end.")


def test_docx_vertical_merge_chain_is_not_followed(tmp_path):
    def merge_first_column(xml: str) -> str:
        # 3,000 rows written into the XML (python-docx fills big tables in quadratic time),
        # each continuing the first row's cell downwards.
        head, first, second = xml.split("<w:tr>")
        second, tail = second.split("</w:tbl>", 1)
        first = first.replace("<w:tcPr>", '<w:tcPr><w:vMerge w:val="restart"/>', 1)
        merged = second.replace("<w:tcPr>", "<w:tcPr><w:vMerge/>", 1)
        rows = [merged.replace(">r<", f">r{i}<") for i in range(3000)]
        return "<w:tr>".join([head, first, *rows]) + "</w:tbl>" + tail

    doc = extract_file(make_docx_xml_edit(tmp_path / "tall.docx", [], [["head", "x"], ["r", "y"]], merge_first_column))
    assert doc.ok, doc.error
    lines = doc.text.splitlines()
    assert lines[:3] == ["head | x", "r0 | y", "r1 | y"] and lines[3000] == "r2999 | y"


def test_docx_with_thousands_of_parts_is_refused(tmp_path):
    path = make_docx(tmp_path / "parts.docx", ["Hello."])
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(10_001):
            zf.writestr(f"extra/part{i}.bin", b"")
    doc = extract_file(path)
    assert doc.error_type == "FileTooLarge" and "10," in doc.error and "parts" in doc.error


@pytest.mark.parametrize("markup", ["<a" * 500_000, "</" * 500_000, "<?" * 500_000, "<!--<" * 200_000])
def test_html_that_never_closes_its_tags_is_read_in_linear_time(tmp_path, markup):
    path = tmp_path / "page.html"
    path.write_text(markup, encoding="utf-8")
    proc = run_python(f"""
        from app.core.documents import extract_file
        doc = extract_file({str(path)!r})
        print(doc.error_type, len(doc.text))
    """)
    assert proc.stdout.split()[0] in ("None", "EmptyDocument")
