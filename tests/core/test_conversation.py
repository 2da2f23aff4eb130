"""The conversation core: one prompt rule for every send, and replies saved from events."""

from __future__ import annotations

import pytest

from app.core.context_rules import DEFAULT_CONTEXT, default_context, reply_reserve
from app.core.conversation import (
    Attached, ChatDefaults, Conversation, ReplyRecorder, fit_documents, prompt_messages, title_from,
)
from app.core.documents.model import Document
from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store, StoreError
from app.core.types import ErrorEvent, GenParams, Message, Stats, StatsEvent, TextEvent

DEFAULTS = ChatDefaults("Be brief.", GenParams(temperature=0.5, max_tokens=4000))


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "chat.db") as s:
        yield s


def answered(store: Store, conv: Conversation, question: str, answer: str, thinking: str = "hmm") -> None:
    turn = conv.ask(question)
    store.finish_message(turn.reply.id, state="complete", content=answer, reasoning=thinking)


def doc(name: str, text: str) -> Document:
    import hashlib

    return Document(name=name, size=len(text), format="text", sha256=hashlib.sha256(text.encode()).hexdigest(),
                    text=text)


def test_a_follow_up_sends_history_without_thinking(store):
    conv = Conversation(store, None, DEFAULTS)
    answered(store, conv, "What is 2+2?", "4", thinking="two and two")
    turn = conv.ask("And 3+3?")
    assert turn.request.messages == [
        Message("system", "Be brief."), Message("user", "What is 2+2?"), Message("assistant", "4"),
        Message("user", "And 3+3?"),
    ]
    assert store.get_thread(turn.thread_id).title == "What is 2+2?"
    assert store.get_message(turn.reply.id).state == "streaming"


def test_thread_settings_and_session_changes_layer_over_the_defaults(store):
    conv = Conversation(store, None, DEFAULTS, extra={"seed": 7})
    answered(store, conv, "Hi", "Hello")
    store.update_thread_settings(conv.thread_id, system_prompt="Think in French.", settings={"temperature": 0.1,
                                                                                           "unknown": 1})
    params = conv.params()
    assert (params.temperature, params.seed, params.max_tokens) == (0.1, 7, 4000)
    assert conv.request("Next").messages[0] == Message("system", "Think in French.")
    # An explicit system prompt for this session (the CLI's --system) wins over the thread's.
    cli = Conversation(store, conv.thread_id, DEFAULTS, system_prompt="")
    assert cli.request("Next").messages[0].role == "user"


def test_regenerate_and_edit_send_the_branch_up_to_their_question(store):
    conv = Conversation(store, None, DEFAULTS)
    answered(store, conv, "First", "One")
    answered(store, conv, "Second", "Two")
    path = conv.path()
    again = conv.regenerate(path[-1].id)
    assert again.request.messages[-1] == Message("user", "Second") and len(again.request.messages) == 4
    edited = conv.edit(path[0].id, "First, edited")
    assert edited.request.messages == [Message("system", "Be brief."), Message("user", "First, edited")]
    assert conv.regenerate(path[0].id) is None  # a question is not a reply
    assert conv.edit(path[1].id, "x") is None  # a reply is not a question


def test_documents_fitted_before_sending_are_what_the_stored_turn_sends(store):
    """The documents path and the plain path agree: the prompt rebuilt from the stored
    attachments equals the one the plan was made for (whole and passages alike)."""
    engine = ScriptedEngine(context_size=1200)
    conv = Conversation(store, None, DEFAULTS)
    answered(store, conv, "Warm up", "Done")
    small = doc("notes.txt", "The launch code is 4417. " * 5)
    big = doc("big.txt", "\n\n".join(f"Paragraph {i} talks about topic {i % 7} at length." * 4 for i in range(120)))
    for docs in ([small], [small, big]):
        request = conv.request("What is the launch code?")
        plan, fitted = fit_documents(request, docs, engine.count_prompt_tokens, engine.count_tokens,
                                     engine.context_size)
        assert plan.decision in ("whole", "passages")
        turn = conv.ask("What is the launch code?", Attached(docs, plan, "key", fitted))
        assert turn.request.messages == fitted.messages
        assert "4417" in turn.request.messages[-1].content
        store.finish_message(turn.reply.id, state="complete", content="4417", reasoning="")
    # A follow-up still carries the earlier turns' documents, exactly as first sent.
    follow = conv.request("Thanks")
    assert follow.messages[:-1] == turn.request.messages + [Message("assistant", "4417")]
    assert engine.count_prompt_tokens(follow.messages) > engine.count_prompt_tokens(conv.request("x").messages[:1])


def test_documents_that_cannot_be_stored_still_go_with_the_question(store, monkeypatch):
    conv = Conversation(store, None, DEFAULTS)
    engine = ScriptedEngine()
    docs = [doc("a.txt", "alpha beta gamma")]
    plan, fitted = fit_documents(conv.request("Q?"), docs, engine.count_prompt_tokens, engine.count_tokens, 4096)

    def full_disk(*_a, **_k):
        raise StoreError("The disk is full.")

    monkeypatch.setattr(store, "save_extraction", full_disk)
    turn = conv.ask("Q?", Attached(docs, plan, None, fitted))
    assert turn.notice and "could not be saved" in turn.notice
    assert turn.request.messages == fitted.messages and "alpha beta" in turn.request.messages[-1].content


def test_the_recorder_saves_streaming_text_and_the_final_state(store):
    conv = Conversation(store, None, DEFAULTS)
    turn = conv.ask("Q")
    now = [0.0]
    rec = ReplyRecorder(store, turn.reply.id, clock=lambda: now[0])
    rec.add([TextEvent("reasoning", "thinking "), TextEvent("answer", "partial")])
    assert rec.save_if_due() is None and store.get_message(turn.reply.id).content == ""  # not a second yet
    now[0] = 1.5
    rec.save_if_due()
    assert store.get_message(turn.reply.id).content == "partial"
    # A closing tag with no opening one: the answer so far was thinking.
    rec.add([TextEvent("reasoning", "partial", moves_answer=True), TextEvent("answer", " final answer")])
    stats = Stats(5, 5, 3, 2, 1.0, 0.5, 0.1, 3.0, "stop")
    rec.add([StatsEvent(stats)])
    shown, notice = rec.finish()
    assert notice is None and shown.state == "complete"
    assert (shown.reasoning, shown.content) == ("thinking partial", "final answer")
    assert shown.generated_tokens == 3 and shown.reasoning_tokens == 2


def test_the_recorder_reports_a_full_disk_once_and_keeps_the_text(store, monkeypatch):
    turn = Conversation(store, None, DEFAULTS).ask("Q")
    now = [0.0]
    rec = ReplyRecorder(store, turn.reply.id, clock=lambda: now[0])

    def full(*_a, **_k):
        raise StoreError("Ponder could not save to its history file (the disk is full).")

    monkeypatch.setattr(store, "update_stream", full)
    monkeypatch.setattr(store, "finish_message", full)
    rec.add([TextEvent("answer", "kept")])
    notices = []
    for t in (1.0, 2.0, 3.0):
        now[0] = t
        notices.append(rec.save_if_due())
    assert notices[0] and notices[1:] == [None, None]
    rec.add([ErrorEvent("boom")])
    shown, notice = rec.finish()
    assert notice and shown.content == "kept" and shown.state == "error" and shown.error == "boom"


def test_prompt_rule_and_context_rules():
    assert prompt_messages("", [], "q") == [Message("user", "q")]
    assert default_context(None) == DEFAULT_CONTEXT and default_context(4096) == 4096
    assert default_context(131072) == DEFAULT_CONTEXT and default_context(131072, 32768) == 32768
    assert reply_reserve(GenParams(), 16384) == 4096  # a quarter for thinking
    assert reply_reserve(GenParams(max_tokens=100), 16384) == 100
    assert reply_reserve(GenParams(reply_reserve=8), 16384) == 8
    assert title_from("  A question\nwith more") == "A question"
    assert len(title_from("word " * 40)) <= 60


def test_scripted_engine_counts_like_a_tokenizer():
    engine = ScriptedEngine()
    assert engine.count_tokens("") == 0
    # Punctuation counts: a text of symbols is long, not empty (a word count said 1).
    assert engine.count_tokens("[" * 1000) == 1000
    assert engine.count_tokens("Hello, world!") == 4
    assert engine.count_prompt_tokens([Message("user", "Hello, world!")]) > engine.count_tokens("Hello, world!")
