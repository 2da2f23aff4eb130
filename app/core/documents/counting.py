"""Token counts and the documents budget with an engine's own tokenizer.

In the window these run on the generation worker's thread.

Why there and not on the document reader's thread: the tokenizer's vocabulary lives
inside the loaded model, which the generation worker frees when the model changes.
llama.cpp's tokenizer only reads the vocabulary and would be safe to call from two
threads at once, but not while another thread frees the model under it, and nothing
but the worker knows when that happens. A queued request keeps the one-owner rule;
the price is that a chip dropped while a reply streams shows its token count when
the reply ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.documents.model import Document
from app.core.documents.pieces import count_text


def count_documents(engine, docs: Sequence[Document]) -> list[int]:
    """Each readable document's whole text as the prompt carries it (0 for failed
    ones), counted in pieces so a 50 MB file never has all its token ids in memory."""
    return [count_text(engine.count_tokens, d.text) if d.ok else 0 for d in docs]
