"""What the history holds, as plain records: threads and their messages. Views show
these; only the store (app/core/store.py) reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.core.types import Role

MessageState = Literal["streaming", "complete", "cancelled", "interrupted", "error"]


@dataclass(frozen=True, slots=True)
class Thread:
    id: int
    title: str
    created_at: float
    updated_at: float  # last message added: the thread list sorts by it
    system_prompt: str | None
    settings: dict
    deleted_at: float | None = None  # set while a delete can still be undone


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    thread_id: int
    parent_id: int | None
    role: Role
    content: str  # the user's text, or the assistant's answer (thinking is separate)
    reasoning: str
    state: MessageState
    error: str | None
    think_seconds: float | None
    answer_seconds: float | None
    prompt_tokens: int | None
    generated_tokens: int | None
    reasoning_tokens: int | None  # of generated_tokens, those spent thinking
    finish_reason: str | None
    reasoning_unfinished: bool
    reasoning_expanded: bool | None  # None: the view decides (no choice made yet)
    created_at: float
    updated_at: float
    thinking_end: str | None = None  # see types.ThinkingEnd; None for older replies
    think_budget: int | None = None  # the thinking budget the reply had (None: no limit)
