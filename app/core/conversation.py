"""One thread's conversation: what sending a question gives the model, and the reply
that comes back, saved.

Every client goes through here: the window (through its chat session), the CLI
(`ask --thread`), and engines near or far. `prompt_messages` is the one function that
turns a system prompt, a thread's turns and a new question into the messages an
engine gets; `Conversation` feeds it from the history store; `ReplyRecorder` turns an
engine's events into the stored reply. Store reads happen on the caller's thread;
nothing here touches a model (token counting is the engine's, see `fit_documents`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

from app.core.context_rules import reply_reserve
from app.core.documents.history import join_block, stored_blocks, with_instruction
from app.core.documents.model import Document
from app.core.documents.persist import save_attachments
from app.core.documents.plan import ContextPlan
from app.core.store import Store, StoredMessage, StoreError, Thread
from app.core.types import Event, GenParams, Message, Stats

log = logging.getLogger(__name__)

SAVE_EVERY_SECONDS = 1.0  # a killed app loses at most this much of a streaming reply
TITLE_CHARS = 60
_FINAL_STATE = {"stop": "complete", "length": "complete", "cancelled": "cancelled", "error": "error"}
_PARAM_FIELDS = frozenset(f.name for f in fields(GenParams))


@dataclass(frozen=True, slots=True)
class ChatDefaults:
    """What a thread uses where it chose nothing itself (from the person's settings)."""

    system_prompt: str
    params: GenParams = GenParams()


@dataclass(frozen=True, slots=True)
class Request:
    """What sending gives the model: the messages and the sampling settings."""

    messages: list[Message]
    params: GenParams

    def reserve(self, context_size: int) -> int:
        """Tokens the reply keeps free in a context of `context_size`."""
        return reply_reserve(self.params, context_size)


@dataclass(frozen=True, slots=True)
class Attached:
    """Documents that go with a question, with how they were fitted (None: not planned)."""

    documents: Sequence[Document]
    plan: ContextPlan | None = None
    model_key: str | None = None  # whose tokens `plan` counted (stored for the next fit)
    fitted: Request | None = None  # fit_documents' request: sent as is if the documents cannot be stored


@dataclass(frozen=True, slots=True)
class Turn:
    """A question stored and its reply started: what to send, and where the reply goes."""

    thread_id: int
    user: StoredMessage
    reply: StoredMessage
    request: Request
    notice: str | None = None  # something the person should know (documents not kept...)


def prompt_messages(system_prompt: str | None, turns: Iterable[StoredMessage], question: str | None = None,
                    blocks: dict[int, str] | None = None) -> list[Message]:
    """The messages an engine gets for a thread's `turns` (oldest first), each user turn
    with the documents block it was first sent with (`blocks`, by message id), then
    `question` if given. Earlier replies go without their thinking, as Phi-4's own
    template does; a reply that produced no answer text is left out."""
    blocks = blocks or {}
    messages = [Message("system", system_prompt)] if system_prompt else []
    for m in turns:
        if m.role == "user" or (m.role == "assistant" and m.content):
            messages.append(Message(m.role, join_block(blocks.get(m.id, ""), m.content)))
    if question is not None:
        messages.append(Message("user", question))
    return with_instruction(messages) if blocks else messages


def title_from(text: str) -> str:
    """A thread's title from its first question: the first line, cut at a word."""
    line = text.strip().splitlines()[0] if text.strip() else "New thread"
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 3].rstrip() + "…"


def thread_overrides(thread: Thread | None) -> dict:
    """The sampling values a thread set for itself (only fields GenParams has)."""
    if thread is None:
        return {}
    return {k: v for k, v in thread.settings.items() if k in _PARAM_FIELDS}


class Conversation:
    """One thread (or a thread still to be created, `thread_id` None) in a history store.

    `extra` holds sampling changes for this session only (the CLI's flags, the
    self-test's grammar); they win over the thread's own values and the defaults. The
    `once` of a send (the composer's thinking choice for one message) wins over all."""

    def __init__(self, store: Store, thread_id: int | None, defaults: ChatDefaults,
                 extra: dict | None = None, system_prompt: str | None = None) -> None:
        self.store = store
        self.thread_id = thread_id
        self.defaults = defaults
        self.extra = dict(extra or {})
        self._system_override = system_prompt  # the CLI's --system for this session

    # -- what a send would give the model ------------------------------------------------

    def thread(self) -> Thread | None:
        return self.store.get_thread(self.thread_id) if self.thread_id is not None else None

    def system_prompt(self) -> str:
        if self._system_override is not None:
            return self._system_override
        thread = self.thread()
        if thread is not None and thread.system_prompt is not None:
            return thread.system_prompt
        return self.defaults.system_prompt

    def params(self, once: dict | None = None) -> GenParams:
        """The defaults with this thread's own values, this session's changes and `once`'s."""
        changes = {**thread_overrides(self.thread()), **self.extra, **(once or {})}
        return replace(self.defaults.params, **{k: v for k, v in changes.items() if k in _PARAM_FIELDS})

    def path(self) -> list[StoredMessage]:
        """The branch on screen, oldest first."""
        return self.store.path(self.thread_id) if self.thread_id is not None else []

    def messages(self, upto: int | None = None, question: str | None = None) -> list[Message]:
        """The prompt for the branch up to message `upto` (default: all of it), plus
        `question` if given. Earlier turns' documents go in again as first sent, so the
        prompt's start matches what the model has cached."""
        path = self.path()
        ids = [m.id for m in path]
        if upto is not None and upto in ids:
            path = path[:ids.index(upto) + 1]
        return prompt_messages(self.system_prompt(), path, question, stored_blocks(self.store, path))

    def request(self, question: str, once: dict | None = None) -> Request:
        """What asking `question` now would send, before any new documents."""
        return Request(self.messages(question=question.strip()), self.params(once))

    def draft_request(self, draft: str) -> Request:
        """The conversation plus typed, unsent text (for the context meter)."""
        return Request(self.messages(question=draft.strip() or None), self.params())

    # -- storing a question and starting its reply ------------------------------------------

    def ask(self, question: str, attached: Attached | None = None, once: dict | None = None) -> Turn:
        """Store `question` (creating the thread if needed) with its documents and an empty
        reply to stream into. Raises StoreError (a full disk): then nothing was sent."""
        question = question.strip()
        if not question:
            raise ValueError("empty question")
        if self.thread_id is None or self.thread() is None:
            self.thread_id = self.store.create_thread(title=title_from(question)).id
        path = self.path()
        if not path:
            self.store.rename_thread(self.thread_id, title_from(question))
        user = self.store.add_message(self.thread_id, path[-1].id if path else None, "user", question)
        if attached is not None and attached.documents:
            try:
                save_attachments(self.store, user.id, attached.documents, attached.plan, attached.model_key)
            except (StoreError, OSError, ValueError):
                # The question still goes with its documents; only the chips are not kept.
                log.exception("saving attachments failed")
                reply = self.store.add_message(user.thread_id, user.id, "assistant", state="streaming")
                request = attached.fitted or Request(self.messages(upto=user.id), self.params(once))
                return Turn(user.thread_id, user, reply, request, "The documents could not be saved with the thread.")
        return self._reply_to(user, once)

    def regenerate(self, assistant_id: int, once: dict | None = None) -> Turn | None:
        """A new reply to the question `assistant_id` answered (a sibling branch)."""
        message = self.store.get_message(assistant_id)
        if message is None or message.role != "assistant" or message.parent_id is None:
            return None
        user = self.store.get_message(message.parent_id)
        self.thread_id = message.thread_id
        return self._reply_to(user, once)

    def edit(self, user_id: int, text: str, once: dict | None = None) -> Turn | None:
        """Ask an edited question as a sibling of `user_id`, keeping its documents."""
        message = self.store.get_message(user_id)
        if message is None or message.role != "user" or not text.strip():
            return None
        self.thread_id = message.thread_id
        edited = self.store.add_message(message.thread_id, message.parent_id, "user", text.strip())
        self.store.copy_attachments(user_id, edited.id)
        return self._reply_to(edited, once)

    def _reply_to(self, user: StoredMessage, once: dict | None = None) -> Turn:
        reply = self.store.add_message(user.thread_id, user.id, "assistant", state="streaming")
        return Turn(user.thread_id, user, reply, Request(self.messages(upto=user.id), self.params(once)))

    def sibling_positions(self) -> dict[int, tuple[int, int]]:
        """For each message on the branch: (its place among its alternatives, how many)."""
        return self.store.sibling_positions(self.thread_id) if self.thread_id is not None else {}


def fit_documents(request: Request, docs: Sequence[Document], count_prompt_tokens: Callable, count_tokens: Callable,
                  context_size: int, known: dict[str, int] | None = None) -> tuple[ContextPlan, Request]:
    """Fit `docs` into `request` (whose last message is the question) with an engine's
    own counts. Returns the plan and the request with the documents in it (unchanged
    for "none" and "refuse": see ContextPlan.reason)."""
    from app.core.documents.context import prepare_context

    plan, messages = prepare_context(request.messages, docs, count_prompt_tokens=count_prompt_tokens,
                                     count_tokens=count_tokens, context_size=context_size,
                                     reply_reserve=request.reserve(context_size), known_tokens=known)
    return plan, replace(request, messages=messages)


@dataclass
class ReplyRecorder:
    """Turns one reply's event stream into its stored message.

    The text is saved every SAVE_EVERY_SECONDS while it streams and in full at the end.
    A save the disk refuses is reported once (as a notice) and tried again at the next
    save; the reply stays in memory meanwhile."""

    store: Store
    message_id: int
    clock: Callable[[], float] = time.monotonic
    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    stats: Stats | None = None
    error: str | None = None
    save_failed: bool = False
    saved_at: float = 0.0

    def __post_init__(self) -> None:
        self.saved_at = self.clock()

    def add(self, events: Iterable[Event]) -> None:
        for ev in events:
            if ev.kind == "reasoning":
                if ev.moves_answer:  # the answer so far was really thinking (the event holds it)
                    self.answer.clear()
                self.reasoning.append(ev.text)
            elif ev.kind == "answer":
                self.answer.append(ev.text)
            elif ev.kind == "stats":
                self.stats = ev.stats
            elif ev.kind == "error":
                self.error = ev.message

    def save_if_due(self) -> str | None:
        """Save the text so far if a second has passed; a notice the first time the disk refuses."""
        if self.clock() - self.saved_at < SAVE_EVERY_SECONDS:
            return None
        self.saved_at = self.clock()
        try:
            self.store.update_stream(self.message_id, "".join(self.answer), "".join(self.reasoning))
        except StoreError as exc:
            first = not self.save_failed
            self.save_failed = True
            return exc.user_message if first else None
        self.save_failed = False
        return None

    def state(self) -> str:
        return _FINAL_STATE.get(self.stats.finish_reason if self.stats else "error", "error")

    def finish(self, state: str | None = None, error: str | None = None) -> tuple[StoredMessage | None, str | None]:
        """Save the reply as finished. Returns the message as it should be shown and a
        notice if the disk refused (then the shown message is the unsaved one)."""
        state = state or self.state()
        error = error if error is not None else self.error
        stats = self.stats
        content, reasoning = "".join(self.answer).strip(), "".join(self.reasoning).strip()
        try:
            self.store.finish_message(
                self.message_id, state=state, content=content, reasoning=reasoning, error=error,
                think_seconds=stats.think_seconds if stats else None,
                answer_seconds=stats.answer_seconds if stats else None,
                prompt_tokens=stats.prompt_tokens if stats else None,
                generated_tokens=stats.generated_tokens if stats else None,
                finish_reason=stats.finish_reason if stats else "error",
                reasoning_unfinished=bool(stats and stats.reasoning_unfinished),
                reasoning_tokens=stats.reasoning_tokens if stats else None,
                thinking_end=stats.thinking_end if stats else None,
                think_budget=stats.think_budget if stats else None,
            )
            return self.store.get_message(self.message_id), None
        except StoreError as exc:
            # A full disk: the reply stays on screen as it is, and the next start marks
            # the saved part as interrupted.
            shown = self.store.get_message(self.message_id)
            if shown is not None:
                shown = replace(shown, state=state, content=content, reasoning=reasoning, error=error)
            return shown, exc.user_message
