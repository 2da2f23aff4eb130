"""`python -m app ask --doc` end to end on the real SmolLM2 model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.test_ask import GRAMMAR, run_app
from tests.core.documents.builders import make_pdf

FACT = "The spare key is hidden under the blue flowerpot."


def logbook(tmp_path):
    lines = [f"Entry {i}: the weather was mild and the boats went out at dawn." for i in range(1, 801)]
    lines[612] = f"Entry 613: {FACT}"
    path = tmp_path / "logbook.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def events_of(proc):
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_context_event_comes_first_and_lists_every_document(smollm2, tmp_path):
    notes = make_pdf(tmp_path / "notes.pdf", ["Meeting on Tuesday.", "Bring the budget sheet."])
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "2048", "--seed", "1", "--max-tokens", "40",
                   "--grammar", GRAMMAR, "--json", "--doc", str(notes), "--doc", str(logbook(tmp_path)),
                   "--doc", str(tmp_path / "gone.docx"), "Where is the spare key hidden?")
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc)
    assert events[0]["kind"] == "context" and events[-1]["kind"] == "stats"
    ctx = events[0]
    assert ctx["decision"] == "passages" and ctx["context_size"] == 2048
    notes_doc, log_doc, gone = ctx["documents"]
    assert notes_doc["name"] == "notes.pdf" and notes_doc["mode"] == "whole" and notes_doc["tokens"] > 0
    assert log_doc["mode"] == "passages" and log_doc["tokens"] > 2048
    spans = [p["location"] for p in log_doc["passages"]]
    hits = [s for s in spans if int(s.split()[1].split("-")[0]) <= 613 <= int(s.split("-")[-1])]
    assert len(hits) == 1, spans
    assert gone["mode"] == "failed" and "gone.docx was not found" in gone["error"]
    assert events[-1]["prompt_tokens"] + ctx["reply_reserve"] <= 2048
    assert "answer" in {e["kind"] for e in events}


def test_plain_mode_notes_what_was_included(smollm2, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\nThe picnic is on Saturday.\n", encoding="utf-8")
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", GRAMMAR,
                   "--doc", str(notes), "When is the picnic?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("[documents] notes.md: whole (")
    assert "[documents]" not in proc.stdout


def test_documents_that_cannot_fit_are_refused(smollm2, tmp_path):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "256", "--max-tokens", "8", "--system", "Be brief.",
                   "--json", "--doc", str(logbook(tmp_path)), "Where is the key?")
    assert proc.returncode == 1
    ctx, error = events_of(proc)
    assert ctx["kind"] == "context" and ctx["decision"] == "refuse"
    assert error["kind"] == "error" and error["type"] == "DocumentsDontFit" and "do not fit" in error["message"]
    assert "Traceback" not in proc.stderr


def test_when_no_document_can_be_read_the_question_is_not_asked(smollm2, tmp_path):
    bad = tmp_path / "blob.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--max-tokens", "8", "--json",
                   "--doc", str(bad), "--doc", str(tmp_path / "gone.txt"), "Hi")
    assert proc.returncode == 1
    (error,) = events_of(proc)
    assert error["kind"] == "error" and error["type"] == "NoDocumentRead"
    assert "binary" in error["message"] and "gone.txt was not found" in error["message"]
    assert "Traceback" not in proc.stderr


def run_with_timeout(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """`python -m app ...`; a hang fails here instead of stalling the suite."""
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy(), check=False)


def test_missing_document_is_not_found_and_exits_non_zero(smollm2, tmp_path):
    proc = run_with_timeout("ask", "--model", str(smollm2), "--ctx", "1024", "--doc", str(tmp_path / "nope.pdf"),
                            "Summarise it.")
    assert proc.returncode == 1
    assert "nope.pdf was not found" in proc.stderr and "no longer there" not in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes by file name are POSIX")
def test_named_pipe_as_a_document_does_not_hang(smollm2, tmp_path):
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    proc = run_with_timeout("ask", "--model", str(smollm2), "--ctx", "1024", "--doc", str(fifo), "q")
    assert proc.returncode == 1
    assert "fifo.txt is not a regular file (it is a named pipe)" in proc.stderr and "Traceback" not in proc.stderr


def test_document_without_words_larger_than_the_context(smollm2, tmp_path):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    proc = run_with_timeout("ask", "--model", str(smollm2), "--ctx", "4096", "--seed", "1", "--max-tokens", "8",
                            "--json", "--doc", str(nested), "What does this file say?", timeout=300)
    assert proc.returncode == 0, proc.stderr
    ctx = events_of(proc)[0]
    assert ctx["decision"] == "passages"
    passages = ctx["documents"][0]["passages"]
    assert passages[0]["start"] == 0 and {p["score"] for p in passages} == {0}
    assert "Traceback" not in proc.stderr
