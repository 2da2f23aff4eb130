"""What the "documents do not fit" question says, and the larger context it can offer."""

from __future__ import annotations

import logging

from app.core.documents import ContextPlan
from app.core.fit import estimate, gb

log = logging.getLogger(__name__)
WRAP_TOKENS = 48  # a document's tag and label, generously
MAX_CONTEXT_WITHOUT_LAYOUT = 131072


def budget_question(plan: ContextPlan) -> str:
    """Numbers first, then one line per document, then what each choice means."""
    lines = [
        f"The context holds {plan.context_size:,} tokens. The conversation takes {plan.base_tokens:,} and "
        f"{plan.reply_reserve:,} are kept for the reply, which leaves {plan.available_tokens:,} for documents.",
        "",
    ]
    for d in plan.documents:
        if d.mode == "failed":
            lines.append(f"• {d.name}: not readable ({d.error})")
        else:
            lines.append(f"• {d.name}: {d.tokens:,} tokens")
    lines.append("")
    if plan.decision == "passages":
        lines.append("Ponder can give the model the passages that best match your question (they are "
                     "listed under the reply as Sources), or the whole text with a larger context.")
    else:
        lines.append(plan.reason or "Not even the most relevant passages fit.")
    return "\n".join(lines)


def whole_need(plan: ContextPlan) -> int:
    """Tokens the prompt needs with every readable document whole, reply reserve aside."""
    return plan.base_tokens + sum(d.tokens + WRAP_TOKENS for d in plan.documents if d.mode != "failed")


def larger_context(plan: ContextPlan, max_tokens: int, layout=None, n_gpu_layers: int = 0) -> tuple[int, str] | None:
    """The smallest doubling of the context that takes everything whole, with what it
    costs in memory (from the model file's layout when known); None when the model
    cannot go that far."""
    limit = (layout.context_length if layout is not None else 0) or MAX_CONTEXT_WITHOUT_LAYOUT
    need = whole_need(plan)
    n = plan.context_size * 2
    while n <= limit:
        if need + min(max_tokens, n // 4) + 16 + n // 200 <= n:
            return n, _cost(layout, plan.context_size, n, n_gpu_layers)
        n *= 2
    return None


def _cost(layout, current: int, larger: int, n_gpu_layers: int) -> str:
    if layout is None:
        return "memory cost not known for this model"
    try:
        before, after = (estimate(layout, n_gpu_layers, n) for n in (current, larger))
    except Exception:  # an estimate is a courtesy; the choice is still offered
        log.exception("context memory estimate failed")
        return "memory cost not known for this model"
    more = (after.gpu_bytes + after.ram_bytes) - (before.gpu_bytes + before.ram_bytes)
    return f"about {gb(more)} more memory, reloads the model"
