"""What a budget decision says: per document, whole or which passages, and why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["none", "whole", "passages", "refuse"]


@dataclass(frozen=True, slots=True)
class Passage:
    start: int  # character offsets into the document's text
    end: int
    location: str  # "p. 3-4" / "lines 10-40"
    tokens: int
    score: float

    def to_json(self) -> dict:
        return {"location": self.location, "start": self.start, "end": self.end,
                "tokens": self.tokens, "score": round(self.score, 3)}


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    name: str
    tokens: int  # the whole text, in the model's tokens (0 when it could not be read)
    mode: Literal["whole", "passages", "failed", "left out"]
    passages: tuple[Passage, ...] = ()
    error: str | None = None
    sha256: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "tokens": self.tokens, "mode": self.mode,
                "passages": [p.to_json() for p in self.passages], "error": self.error}


@dataclass(frozen=True, slots=True)
class ContextPlan:
    decision: Decision
    documents: tuple[DocumentPlan, ...]
    context_size: int
    base_tokens: int  # system prompt + history + question, without documents
    reply_reserve: int
    available_tokens: int  # room for documents
    used_tokens: int  # what the documents block costs (counted piece by piece)
    text: str = ""  # the documents block for the prompt ("" for none or refuse)
    reason: str | None = None  # why "refuse"

    def to_json(self) -> dict:
        return {"kind": "context", "decision": self.decision,
                "documents": [d.to_json() for d in self.documents],
                "context_size": self.context_size, "base_tokens": self.base_tokens,
                "reply_reserve": self.reply_reserve, "available_tokens": self.available_tokens,
                "used_tokens": self.used_tokens, "reason": self.reason}
