"""Several files in a row: progress per file, cancel, failures that stop nothing, reuse."""

from __future__ import annotations

import threading

from app.core.documents import ExtractionJob, extract_files
from tests.core.documents.builders import make_pdf


def test_progress_per_file_and_a_failure_in_the_middle(tmp_path):
    a = make_pdf(tmp_path / "a.pdf", ["one", "two", "three"])
    (tmp_path / "b.bin").write_bytes(b"\x00")
    (tmp_path / "c.txt").write_text("see", encoding="utf-8")
    events, finished = [], []
    job = ExtractionJob([a, tmp_path / "b.bin", tmp_path / "c.txt"], on_progress=events.append,
                        on_document=lambda i, d: finished.append((i, d.ok)))
    docs = job.run()
    assert [d.ok for d in docs] == [True, False, True]
    assert finished == [(0, True), (1, False), (2, True)]
    pdf_events = [(e.done, e.total, e.unit) for e in events if e.file_index == 0]
    assert pdf_events == [(1, 3, "page"), (2, 3, "page"), (3, 3, "page")]
    assert {e.file_count for e in events} == {3}
    assert [(e.name, e.done, e.total) for e in events if e.file_index == 2] == [("c.txt", 1, 1)]


def test_file_deleted_while_others_are_read(tmp_path):
    first = make_pdf(tmp_path / "first.pdf", ["a", "b"])
    second = tmp_path / "second.txt"
    second.write_text("soon gone", encoding="utf-8")

    def progress(event):
        if event.file_index == 0 and event.done == 1:
            second.unlink()  # removed after the job started, before it got there

    docs = ExtractionJob([first, second], on_progress=progress).run()
    assert docs[0].ok
    assert docs[1].error_type == "DocumentUnreadable" and "second.txt was not found" in docs[1].error


def test_cancel_marks_the_current_and_remaining_files(tmp_path):
    big = make_pdf(tmp_path / "big.pdf", [f"page {i}" for i in range(30)])
    (tmp_path / "after.txt").write_text("x", encoding="utf-8")
    cancel = threading.Event()

    def progress(event):
        if event.done == 5:
            cancel.set()

    docs = ExtractionJob([big, tmp_path / "after.txt"], cancel=cancel, on_progress=progress).run()
    assert [d.error_type for d in docs] == ["ExtractionCancelled", "ExtractionCancelled"]
    assert "cancelled" in docs[0].error


def test_known_content_is_not_extracted_again(tmp_path, monkeypatch):
    path = tmp_path / "renamed copy.txt"
    path.write_text("already read", encoding="utf-8")
    original = extract_files([path])[0]
    asked = []

    def known(sha):
        asked.append(sha)
        return original

    def no_extracting(*args, **kwargs):
        raise AssertionError("the file was extracted again")

    monkeypatch.setattr("app.core.documents.extract.extract_bytes", no_extracting)
    doc = ExtractionJob([path], known=known).run()[0]
    assert asked == [original.sha256]
    assert doc.text == "already read" and doc.name == "renamed copy.txt"
