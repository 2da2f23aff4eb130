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

from collections.abc import Mapping, Sequence

from app.core.documents import ContextPlan, Document, prepare_context
from app.core.documents.wrapping import safe
from app.core.types import Message


def count_documents(engine, docs: Sequence[Document]) -> list[int]:
    """Each readable document's whole text as the prompt carries it (0 for failed ones)."""
    return [engine.count_tokens(safe(d.text)) if d.ok else 0 for d in docs]


def plan_documents(engine, messages: Sequence[Message], docs: Sequence[Document], reserve: int,
                   known: Mapping[str, int]) -> tuple[ContextPlan, list[Message]]:
    """prepare_context with the engine's own counts."""
    return prepare_context(messages, docs, count_prompt_tokens=engine.count_prompt_tokens,
                           count_tokens=engine.count_tokens,
                           context_size=engine.context_size, reply_reserve=reserve, known_tokens=known)
