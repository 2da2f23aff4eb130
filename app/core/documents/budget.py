"""Do the documents fit? The whole/passages/refuse decision, made in the model's own
tokens.

Everything that fits goes in whole. Otherwise small documents (each within an even
share of half the room) still go whole, and the rest are cut into chunks ranked
against the question with BM25; the best chunks are taken until the room is full and
then given in document order, each labelled with its file and pages or lines. When
not even a minimal passage fits, the answer is "refuse": nothing is ever cut silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from app.core.documents.chunking import DEFAULT_CHUNK_CHARS, DEFAULT_OVERLAP_CHARS, chunk_documents
from app.core.documents.model import Document
from app.core.documents.pieces import count_text
from app.core.documents.plan import ContextPlan, Decision, DocumentPlan, Passage
from app.core.documents.ranking import bm25_scores
from app.core.documents.wrapping import FOOTER, header, passage_label, render_block, safe
from app.core.context_rules import reply_reserve  # noqa: F401 (the one rule; documents' callers import it here)

CountTokens = Callable[[str], int]
MIN_PASSAGE_TOKENS = 128  # less room than this for documents: refuse rather than give scraps
MAX_MISSES = 40  # chunks in a row that did not fit before the budget counts as full


def _merge(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping or touching chunks of one document become one passage."""
    out: list[tuple[int, int, float]] = []
    for start, end, score in sorted(spans):
        if out and start <= out[-1][1]:
            s, e, sc = out[-1]
            out[-1] = (s, max(e, end), max(sc, score))
        else:
            out.append((start, end, score))
    return out


def plan_context(docs: Sequence[Document], question: str, count_tokens: CountTokens, *, context_size: int,
                 base_tokens: int, reply_reserve: int, known_tokens: Mapping[str, int] | None = None,
                 chunk_chars: int = DEFAULT_CHUNK_CHARS, overlap_chars: int = DEFAULT_OVERLAP_CHARS,
                 margin: int | None = None) -> ContextPlan:
    """Decide how `docs` go into a prompt of `base_tokens` (everything but the documents).

    `count_tokens` counts text in the loaded model's tokens; `known_tokens` maps a
    document's sha256 to its stored whole-text count so long texts are not counted
    again; a long text is counted in pieces (pieces.count_text). `margin` (default
    16 + 0.5% of the context) absorbs the few tokens that counting pieces apart can
    differ from counting them joined.
    """
    known = known_tokens or {}
    margin = 16 + context_size // 200 if margin is None else margin
    available = max(0, context_size - base_tokens - reply_reserve - margin)
    ok = [d for d in docs if d.ok]
    tokens = {id(d): known.get(d.sha256) or count_text(count_tokens, d.text) for d in ok}

    def result(decision: Decision, plans: dict, used: int = 0, text: str = "", reason: str | None = None):
        ordered = tuple(plans.get(id(d)) or DocumentPlan(d.name, 0, "failed", error=d.error, sha256=d.sha256)
                        for d in docs)
        return ContextPlan(decision, ordered, context_size, base_tokens, reply_reserve, available, used, text, reason)

    if not ok:
        return result("none", {})
    wrap_cost = {id(d): count_tokens(header(d, "whole") + FOOTER) + 2 for d in ok}
    whole_cost = {id(d): tokens[id(d)] + wrap_cost[id(d)] for d in ok}
    if sum(whole_cost.values()) <= available:
        plans = {id(d): DocumentPlan(d.name, tokens[id(d)], "whole", sha256=d.sha256) for d in ok}
        text = render_block([(d, plans[id(d)]) for d in ok])
        return result("whole", plans, sum(whole_cost.values()), text)

    share = available // (2 * len(ok))
    whole = [d for d in ok if whole_cost[id(d)] <= share]
    cut = [d for d in ok if whole_cost[id(d)] > share]
    room = available - sum(whole_cost[id(d)] for d in whole) - sum(wrap_cost[id(d)] for d in cut)
    if room < MIN_PASSAGE_TOKENS:
        return result("refuse", {id(d): DocumentPlan(d.name, tokens[id(d)], "left out", sha256=d.sha256) for d in ok},
                      reason=_refusal(available, base_tokens, reply_reserve, context_size))

    chunks = chunk_documents([d.text for d in cut], chunk_chars, overlap_chars)
    scores = bm25_scores([cut[c.doc].text[c.start:c.end] for c in chunks], question)
    order = sorted(range(len(chunks)), key=lambda i: (-scores[i], i))
    picked: dict[int, list[tuple[int, int, float]]] = {i: [] for i in range(len(cut))}
    misses = 0
    for i in order:
        c = chunks[i]
        doc = cut[c.doc]
        cost = count_tokens(passage_label(doc, c.start, c.end) + safe(doc.text[c.start:c.end])) + 2
        if cost <= room:
            room -= cost
            picked[c.doc].append((c.start, c.end, float(scores[i])))
            misses = 0
        else:
            misses += 1
            if misses >= MAX_MISSES or room < MIN_PASSAGE_TOKENS // 4:
                break
    if not any(picked.values()):
        return result("refuse", {id(d): DocumentPlan(d.name, tokens[id(d)], "left out", sha256=d.sha256) for d in ok},
                      reason=_refusal(available, base_tokens, reply_reserve, context_size))

    plans, used = {}, 0
    whole_ids = {id(d) for d in whole}
    cut_index = {id(d): i for i, d in enumerate(cut)}
    for d in ok:
        if id(d) in whole_ids:
            plans[id(d)] = DocumentPlan(d.name, tokens[id(d)], "whole", sha256=d.sha256)
            used += whole_cost[id(d)]
            continue
        passages = []
        for start, end, score in _merge(picked[cut_index[id(d)]]):
            n = count_tokens(passage_label(d, start, end) + safe(d.text[start:end]))
            passages.append(Passage(start, end, d.location(start, end), n, score))
            used += n + 2
        plans[id(d)] = DocumentPlan(d.name, tokens[id(d)], "passages", tuple(passages), sha256=d.sha256)
        used += wrap_cost[id(d)]
    return result("passages", plans, used, render_block([(d, plans[id(d)]) for d in ok]))


def _refusal(available: int, base: int, reserve: int, context: int) -> str:
    return (
        f"The documents do not fit: the conversation takes {base:,} tokens and {reserve:,} are kept for "
        f"the reply, which leaves {available:,} of the {context:,}-token context for documents; even "
        f"the most relevant passages need more. Start a new thread, attach fewer or shorter "
        f"documents, or raise the context size."
    )
