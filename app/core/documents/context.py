"""From a conversation and its attachments to the messages the engine gets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from app.core.documents.budget import CountTokens, plan_context
from app.core.documents.model import Document
from app.core.documents.plan import ContextPlan
from app.core.documents.wrapping import with_documents
from app.core.types import Message


def prepare_context(messages: Sequence[Message], docs: Sequence[Document], *,
                    count_prompt_tokens: Callable[[Sequence[Message]], int], count_tokens: CountTokens,
                    context_size: int, reply_reserve: int,
                    known_tokens: Mapping[str, int] | None = None) -> tuple[ContextPlan, list[Message]]:
    """Plan `docs` against the last user message of `messages` and build the prompt.

    Returns (plan, messages to send). For "none" (no readable document) the messages
    come back unchanged; for "refuse" too, and the caller should show `plan.reason`
    instead of asking. The finished prompt is counted once more: if joining pieces
    cost more than the margin allowed, the plan is made again with that much less room.
    """
    messages = list(messages)
    base = count_prompt_tokens(with_documents(messages, ""))
    question = messages[-1].content
    kwargs = dict(context_size=context_size, base_tokens=base, reply_reserve=reply_reserve, known_tokens=known_tokens)
    plan = plan_context(docs, question, count_tokens, **kwargs)
    if plan.decision in ("none", "refuse"):
        return plan, messages
    final = with_documents(messages, plan.text)
    excess = count_prompt_tokens(final) + reply_reserve - context_size
    if excess > 0:
        plan = plan_context(docs, question, count_tokens, margin=16 + context_size // 200 + excess + 16, **kwargs)
        if plan.decision in ("none", "refuse"):
            return plan, messages
        final = with_documents(messages, plan.text)
    return plan, final
