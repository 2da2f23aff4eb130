"""The context's rules, each written once: how big a context is by default, and how
much of it a reply keeps free. The engine, the window's meter, the documents budget
and the CLI all ask here."""

from __future__ import annotations

from app.core.types import GenParams

DEFAULT_CONTEXT = 16384  # a context past this costs laptop memory most questions never use
REPLY_SHARE = 4  # a reasoning model thinks at length: a quarter of the context stays free for it


def default_context(trained: int | None, requested: int = 0) -> int:
    """The context a load gets: `requested` when set, else the model's trained length
    capped at DEFAULT_CONTEXT (a model that does not say gets DEFAULT_CONTEXT)."""
    if requested and requested > 0:
        return requested
    return min(trained or DEFAULT_CONTEXT, DEFAULT_CONTEXT)


def reply_reserve(params: GenParams, context_size: int) -> int:
    """Tokens that must stay free for the reply before a prompt is accepted: a quarter
    of the context, or max_tokens if that is less, or the params' own explicit reserve
    if that is less still. The reply may still use everything up to the context size;
    this only refuses prompts that would leave the model no room to think."""
    reserve = min(params.max_tokens, context_size // REPLY_SHARE)
    if params.reply_reserve is not None:
        reserve = min(reserve, params.reply_reserve)
    return max(0, reserve)
