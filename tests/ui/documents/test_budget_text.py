"""The larger context the budget question offers, and what it says it costs."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.documents import ContextPlan, DocumentPlan
from app.ui.documents.budget_text import budget_question, larger_context


def plan(doc_tokens: int, context: int = 4096) -> ContextPlan:
    docs = (DocumentPlan("a.pdf", doc_tokens, "passages"), DocumentPlan("b.pdf", 0, "failed", error="a scan"))
    return ContextPlan("passages", docs, context, 500, 1024, 2500, 2400)


def test_offers_the_smallest_doubling_that_takes_everything_whole():
    assert larger_context(plan(5000), max_tokens=32768)[0] == 8192
    assert larger_context(plan(9000), max_tokens=32768)[0] == 16384
    assert "not known" in larger_context(plan(5000), max_tokens=32768)[1]


def test_stops_at_the_model_context_and_prices_the_cache(monkeypatch):
    layout = SimpleNamespace(context_length=8192)
    assert larger_context(plan(9000), 32768, layout) is None
    sizes = {4096: 1_000_000_000, 8192: 1_800_000_000}
    fake = lambda layout, layers, n: SimpleNamespace(gpu_bytes=0, ram_bytes=sizes[n])  # noqa: E731
    monkeypatch.setattr("app.ui.documents.budget_text.estimate", fake)
    n, cost = larger_context(plan(5000), 32768, layout)
    assert n == 8192 and cost.startswith("about 0.8 GB more")


def test_question_lists_each_file_and_why_one_is_missing():
    text = budget_question(plan(5000))
    assert "a.pdf: 5,000 tokens" in text and "b.pdf: not readable (a scan)" in text
    assert "2,500 for documents" in text
