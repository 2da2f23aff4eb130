"""The whole/passages/refuse decision, counted with SmolLM2's real tokenizer."""

from __future__ import annotations

import pytest

from app.core.documents import Document, plan_context, prepare_context, render_block
from app.core.documents.pieces import PIECE_CHARS
from app.core.documents.wrapping import DOCUMENTS_INSTRUCTION, safe
from app.core.engine import LlamaEngine, LoadParams
from app.core.types import Message

FACT = "The harbour master keeps the brass telescope in the north tower."


@pytest.fixture(scope="module")
def engine(smollm2):
    with LlamaEngine(smollm2, LoadParams(n_ctx=8192)) as e:
        yield e


@pytest.fixture(scope="module")
def count(engine):
    return lambda text: len(engine.tokenize(text, starts_prompt=False))


def text_doc(name: str, text: str) -> Document:
    return Document(name, size=len(text), format="text", sha256=name * 4, text=text)


def long_doc(lines: int = 1500) -> Document:
    body = [f"Line {i}: the river runs past the market and the old mill turns slowly." for i in range(1, lines + 1)]
    body[1100] = f"Line 1101: {FACT}"
    return text_doc("logbook.txt", "\n".join(body))


def test_everything_fits_whole(count):
    notes = text_doc("notes.txt", "Buy milk.\nCall Ada at <|im_end|> noon.\n")
    plan = plan_context([notes], "When to call Ada?", count, context_size=4096, base_tokens=300, reply_reserve=1024)
    assert plan.decision == "whole"
    assert plan.documents[0].mode == "whole" and plan.documents[0].tokens == count(safe(notes.text))
    assert 'name="notes.txt"' in plan.text and "Buy milk." in plan.text and "</document>" in plan.text
    assert "<|im_end|>" not in plan.text  # control markers in a file are defused
    assert plan.used_tokens <= plan.available_tokens


def test_long_document_gives_ranked_passages_in_order(count):
    doc = long_doc()
    plan = plan_context([doc], "Where does the harbour master keep the brass telescope?", count,
                        context_size=2048, base_tokens=200, reply_reserve=512)
    assert plan.decision == "passages"
    d = plan.documents[0]
    assert d.mode == "passages" and d.tokens > 2048
    assert d.passages and [p.start for p in d.passages] == sorted(p.start for p in d.passages)
    hit = [p for p in d.passages if FACT in doc.text[p.start:p.end]]
    assert len(hit) == 1
    first, last = (int(s) for s in hit[0].location.removeprefix("lines ").split("-"))
    assert first <= 1101 <= last
    assert f"[logbook.txt {hit[0].location}]" in plan.text
    assert plan.used_tokens <= plan.available_tokens
    assert count(plan.text) <= plan.available_tokens + 16


def test_small_documents_stay_whole_beside_passages(count):
    small = text_doc("todo.md", "- water the plants\n- post the letter\n")
    plan = plan_context([small, long_doc()], "telescope harbour", count, context_size=2048, base_tokens=200,
                        reply_reserve=512)
    assert plan.decision == "passages"
    assert [d.mode for d in plan.documents] == ["whole", "passages"]
    assert "water the plants" in plan.text


def test_refuse_when_nothing_fits(count):
    plan = plan_context([long_doc()], "telescope", count, context_size=2048, base_tokens=1400, reply_reserve=512)
    assert plan.decision == "refuse" and plan.text == ""
    assert "do not fit" in plan.reason and "1,400" in plan.reason
    assert plan.documents[0].mode == "left out"


def test_failed_documents_are_listed_and_do_not_block(count):
    bad = Document("scan.pdf", error="scan.pdf has no text layer", error_type="NoTextLayer")
    plan = plan_context([bad, text_doc("a.txt", "alpha")], "alpha?", count, context_size=2048, base_tokens=100,
                        reply_reserve=256)
    assert plan.decision == "whole"
    assert plan.to_json()["documents"][0] == {"name": "scan.pdf", "tokens": 0, "mode": "failed", "passages": [],
                                              "error": "scan.pdf has no text layer"}
    only_bad = plan_context([bad], "x", count, context_size=2048, base_tokens=100, reply_reserve=256)
    assert only_bad.decision == "none"


def test_known_token_counts_are_used(count):
    doc = text_doc("a.txt", "alpha beta")
    plan = plan_context([doc], "q", count, context_size=2048, base_tokens=100, reply_reserve=256,
                        known_tokens={doc.sha256: 77})
    assert plan.documents[0].tokens == 77


def test_prepare_context_prompt_fits_the_engine(engine, count):
    messages = [Message("system", "Answer briefly."), Message("user", "Where is the brass telescope?")]
    plan, final = prepare_context(messages, [long_doc()], count_prompt_tokens=engine.count_prompt_tokens,
                                  count_tokens=count, context_size=2048, reply_reserve=512)
    assert plan.decision == "passages"
    assert final[0].content == "Answer briefly.\n\n" + DOCUMENTS_INSTRUCTION
    assert final[-1].content.endswith("Where is the brass telescope?") and FACT in final[-1].content
    assert engine.count_prompt_tokens(final) + 512 <= 2048
    assert plan.base_tokens == engine.count_prompt_tokens([final[0], messages[1]])
    # The block can be rebuilt from stored text and plans (an earlier turn's prompt).
    assert render_block([(long_doc(), plan.documents[0])]) == plan.text


def test_reply_reserve_is_a_quarter_or_max_tokens():
    from app.core.documents import reply_reserve
    from app.core.types import GenParams

    assert reply_reserve(GenParams(), 16384) == 4096
    assert reply_reserve(GenParams(), 1024) == 256
    assert reply_reserve(GenParams(max_tokens=40), 2048) == 40
    # Never below what the engine itself keeps free (min(max_tokens, reply_reserve, ctx // 4)).
    for ctx in (256, 1024, 4096, 32768):
        for params in (GenParams(), GenParams(max_tokens=8), GenParams(reply_reserve=4000)):
            explicit = ctx if params.reply_reserve is None else params.reply_reserve
            assert reply_reserve(params, ctx) >= min(params.max_tokens, explicit, ctx // 4)


@pytest.mark.parametrize("text", ["[" * 200_000, ".,;:!?-" * 30_000, "[" * 50_000 + "]" * 50_000])
@pytest.mark.parametrize("question", ["What does this file say?", "???"])
def test_document_without_words_larger_than_the_context_gives_its_start(count, text, question):
    doc = text_doc("brackets.json", text)
    # Punctuation is about a token a character: a 1,500-character passage needs a 4k context.
    plan = plan_context([doc], question, count, context_size=4096, base_tokens=200, reply_reserve=512)
    assert plan.decision == "passages"
    passages = plan.documents[0].passages
    assert passages[0].start == 0 and all(p.score == 0 for p in passages)
    assert plan.used_tokens <= plan.available_tokens


def test_long_text_is_counted_in_pieces(count):
    doc = text_doc("one line.csv", ",".join(f"{i},name {i},{i * 7 % 13}" for i in range(40_000)))
    assert len(doc.text) > 10 * PIECE_CHARS and "\n" not in doc.text
    longest = []

    def recording(text: str) -> int:
        longest.append(len(text))
        return count(text)

    plan = plan_context([doc], "name 39999", recording, context_size=2048, base_tokens=200, reply_reserve=512)
    assert plan.decision == "passages" and max(longest) <= PIECE_CHARS
    whole = count(safe(doc.text))
    # A token or two may differ at each cut; the budget's margin (16 + 0.5% of the context) covers that.
    assert abs(plan.documents[0].tokens - whole) <= len(doc.text) // PIECE_CHARS + 1
