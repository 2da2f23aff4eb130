"""Attachments in the history store: kept with the message, text stored once per content,
recognised again after the store is reopened."""

from __future__ import annotations

from app.core.documents import ExtractionJob, plan_context
from app.core.documents.model import EXTRACTOR_VERSION
from app.core.documents.persist import known_documents, load_attachments, save_attachments, stored_token_counts
from app.core.store import MIGRATIONS, Store
from tests.core.documents.builders import make_pdf


def words(text: str) -> int:
    return len(text.split())


def setup_thread(store: Store):
    thread = store.create_thread("docs")
    return store.add_message(thread.id, None, "user", "What is on page 2?")


def test_attachments_survive_reopen_and_dedup(tmp_path):
    db = tmp_path / "history.db"
    pdf = make_pdf(tmp_path / "report.pdf", ["intro words here", "the answer is on page two", "outro"])
    (tmp_path / "missing.txt").write_text("x", encoding="utf-8")
    (tmp_path / "missing.txt").unlink()
    docs = ExtractionJob([pdf, tmp_path / "missing.txt"]).run()
    with Store(db) as store:
        msg = setup_thread(store)
        plan = plan_context(docs, "answer page", words, context_size=4096, base_tokens=10, reply_reserve=100)
        save_attachments(store, msg.id, docs, plan, model_key="smollm2-q4_1")
    with Store(db) as store:
        loaded = load_attachments(store, msg.id)
        assert [d.name for d, _ in loaded] == ["report.pdf", "missing.txt"]
        doc, doc_plan = loaded[0]
        assert doc.text == docs[0].text and doc.page_starts == docs[0].page_starts and doc.pages == 3
        assert doc.location(doc.text.index("answer"), doc.text.index("answer") + 5) == "p. 2"
        assert doc_plan.mode == "whole" and doc_plan.tokens == words(docs[0].text)
        failed, failed_plan = loaded[1]
        assert not failed.ok and "was not found" in failed.error and failed_plan.mode == "failed"
        assert stored_token_counts(store, [doc], "smollm2-q4_1") == {doc.sha256: words(docs[0].text)}
        assert stored_token_counts(store, [doc], "other-model") == {}

        # The same bytes dropped again under another name: found, not re-extracted.
        copy = tmp_path / "copy of report.pdf"
        copy.write_bytes(pdf.read_bytes())
        reused = ExtractionJob([copy], known=known_documents(store)).run()[0]
        assert reused.text == doc.text and reused.name == "copy of report.pdf"
        assert reused.size == copy.stat().st_size and reused.page_starts == doc.page_starts
        second = store.add_message(msg.thread_id, msg.id, "user", "again")
        save_attachments(store, second.id, [reused])
        ids = {a.extraction.id for m in (msg.id, second.id) for a in store.attachments(m) if a.extraction}
        assert len(ids) == 1


def test_attachments_go_with_their_message(tmp_path):
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    docs = ExtractionJob([tmp_path / "a.txt"]).run()
    with Store(tmp_path / "h.db") as store:
        msg = setup_thread(store)
        save_attachments(store, msg.id, docs)
        assert store.find_extraction(docs[0].sha256, EXTRACTOR_VERSION) is not None
        store.delete_message(msg.id)
        assert store.attachments(msg.id) == []
        assert store.purge_unused_extractions() == 1
        assert store.find_extraction(docs[0].sha256, EXTRACTOR_VERSION) is None


def test_schema_version_counts_the_new_migration(tmp_path):
    with Store(tmp_path / "h.db") as store:
        assert store._version() == len(MIGRATIONS) >= 2
