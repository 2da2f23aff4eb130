"""The prompt text around documents: delimiters with file names, passage labels with
pages or lines, and the system prompt addition that asks for citations."""

from __future__ import annotations

from html import escape

from app.core.documents.model import Document
from app.core.documents.plan import DocumentPlan
from app.core.types import Message

DOCUMENTS_INSTRUCTION = (
    "The user has attached documents. Each one is given between <document> and </document> tags "
    "with its file name. A document marked whole is given in full; from a long one only the "
    "passages most relevant to the question are given, each headed by its file name and page or "
    "line range in square brackets. Base your answer on these documents where they apply, and cite "
    "the file and page (or lines) you used, for example [report.pdf p. 3]. If they do not contain "
    "the answer, say so."
)
SEPARATOR = "\n\n"


def safe(text: str) -> str:
    """Document text with chat-template control markers defused: the prompt is
    tokenized with special tokens parsed, so a file containing "<|im_end|>" could
    otherwise end the user's turn."""
    return text.replace("<|", "< |").replace("|>", "| >")


def header(doc: Document, mode: str) -> str:
    return f'<document name="{escape(doc.name)}" {doc.unit}s="{doc.pages or doc.lines}" given="{mode}">\n'


FOOTER = "\n</document>"


def passage_label(doc: Document, start: int, end: int) -> str:
    return f"[{doc.name} {doc.location(start, end)}]\n"


def render_block(docs: list[tuple[Document, DocumentPlan]]) -> str:
    """The documents as the prompt gives them: whole, or the planned passages in text
    order. Also rebuilds an earlier turn's block from stored text and plans."""
    blocks = []
    for doc, plan in docs:
        if plan.mode == "whole":
            blocks.append(header(doc, "whole") + safe(doc.text) + FOOTER)
        elif plan.mode == "passages" and plan.passages:
            parts = [passage_label(doc, p.start, p.end) + safe(doc.text[p.start:p.end]) for p in plan.passages]
            blocks.append(header(doc, "passages") + SEPARATOR.join(parts) + FOOTER)
    return SEPARATOR.join(blocks)


def with_documents(messages: list[Message], block: str, instruction: str = DOCUMENTS_INSTRUCTION) -> list[Message]:
    """`messages` with the citation instruction added to the system prompt and `block`
    (the documents) put before the text of the last user message."""
    if not messages or messages[-1].role != "user":
        raise ValueError("the conversation must end with the user's message")
    out = list(messages)
    if out[0].role == "system":
        # An earlier turn's documents may have added it already (a follow-up question).
        if instruction not in out[0].content:
            out[0] = Message("system", f"{out[0].content}{SEPARATOR}{instruction}" if out[0].content else instruction)
    else:
        out.insert(0, Message("system", instruction))
    if block:
        out[-1] = Message("user", f"{block}{SEPARATOR}{out[-1].content}")
    return out
