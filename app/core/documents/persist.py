"""Documents in the history store: extracted text kept once per file content, linked
to the message they were attached to, with how the prompt used them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.core.documents.model import EXTRACTOR_VERSION, Document
from app.core.documents.plan import ContextPlan, DocumentPlan, Passage
from app.core.store import Store, StoredAttachment, StoredExtraction


def document_from(extraction: StoredExtraction, name: str, size: int) -> Document:
    meta = extraction.meta
    return Document(name=name, size=size, format=extraction.format, sha256=extraction.sha256, text=extraction.text,
                    page_starts=tuple(meta.get("page_starts", ())), encoding=meta.get("encoding"))


def known_documents(store: Store) -> Callable[[str], Document | None]:
    """A `known` callback for ExtractionJob: text already stored for these bytes."""

    def known(sha256: str) -> Document | None:
        found = store.find_extraction(sha256, EXTRACTOR_VERSION)
        return None if found is None else document_from(found, "", len(found.text))

    return known


def save_attachments(store: Store, message_id: int, docs: Sequence[Document], plan: ContextPlan | None = None,
                     model_key: str | None = None) -> list[int]:
    """Store `docs` as the attachments of `message_id` (failed ones with their error),
    with each one's part of `plan` and, given `model_key`, its token count."""
    plans = {} if plan is None else {i: p for i, p in enumerate(plan.documents)}
    ids = []
    for position, doc in enumerate(docs):
        extraction_id = None
        doc_plan = plans.get(position)
        if doc.ok:
            meta = {"page_starts": list(doc.page_starts), "encoding": doc.encoding}
            extraction = store.save_extraction(doc.sha256, EXTRACTOR_VERSION, doc.format, doc.text, meta)
            extraction_id = extraction.id
            if model_key and doc_plan is not None and doc_plan.tokens:
                store.set_extraction_tokens(extraction_id, model_key, doc_plan.tokens)
        ids.append(store.add_attachment(message_id, position, doc.name, doc.size, doc.format, extraction_id,
                                        doc.error, None if doc_plan is None else doc_plan.to_json()))
    return ids


def _plan_from(stored: dict | None, name: str) -> DocumentPlan | None:
    if stored is None:
        return None
    passages = tuple(Passage(p["start"], p["end"], p["location"], p["tokens"], p["score"])
                     for p in stored.get("passages", ()))
    return DocumentPlan(name, stored.get("tokens", 0), stored["mode"], passages, stored.get("error"))


def load_attachments(store: Store, message_id: int) -> list[tuple[Document, DocumentPlan | None]]:
    """The message's documents (text restored) with the plan that was used for each;
    wrapping.render_block(...) rebuilds the prompt block of an earlier turn from them."""
    out = []
    for a in store.attachments(message_id):
        out.append((_document(a), _plan_from(a.plan, a.name)))
    return out


def _document(a: StoredAttachment) -> Document:
    if a.extraction is None:
        return Document(name=a.name, size=a.size, format=a.format, error=a.error or "It could not be read.")
    return document_from(a.extraction, a.name, a.size)


def stored_token_counts(store: Store, docs: Sequence[Document], model_key: str) -> dict[str, int]:
    """sha256 -> whole-text token count under `model_key`, for plan_context's known_tokens."""
    counts = {}
    for doc in docs:
        if doc.ok:
            found = store.find_extraction(doc.sha256, EXTRACTOR_VERSION)
            if found is not None and model_key in found.tokens:
                counts[doc.sha256] = found.tokens[model_key]
    return counts
