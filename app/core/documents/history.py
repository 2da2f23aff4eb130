"""Earlier turns' documents in a follow-up prompt.

A follow-up question is asked with every earlier document block exactly as it was
first sent (rebuilt from the stored text and plan), so the model still sees them and
the prompt's prefix matches the cached one token for token.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.documents.persist import load_attachments
from app.core.documents.wrapping import DOCUMENTS_INSTRUCTION, SEPARATOR, render_block
from app.core.store import Store, StoredMessage
from app.core.types import Message


def stored_blocks(store: Store, path: Sequence[StoredMessage]) -> dict[int, str]:
    """User message id -> the documents block it was sent with (only those that had one)."""
    blocks = {}
    for m in path:
        if m.role != "user":
            continue
        pairs = [(d, p) for d, p in load_attachments(store, m.id) if d.ok and p is not None]
        block = render_block(pairs) if pairs else ""
        if block:
            blocks[m.id] = block
    return blocks


def join_block(block: str, content: str) -> str:
    """The user's text as sent: documents first, as `with_documents` puts them."""
    return f"{block}{SEPARATOR}{content}" if block else content


def with_instruction(messages: list[Message], instruction: str = DOCUMENTS_INSTRUCTION) -> list[Message]:
    """`messages` with the citation instruction in the system prompt, once."""
    out = list(messages)
    if out and out[0].role == "system":
        if instruction not in out[0].content:
            out[0] = Message("system", f"{out[0].content}{SEPARATOR}{instruction}" if out[0].content else instruction)
    else:
        out.insert(0, Message("system", instruction))
    return out
