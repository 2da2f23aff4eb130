"""The chat on the GUI thread: threads, branches, and the reply streaming now.

An adapter: what a send gives the model and how a reply is saved are the core's
(app/core/conversation.py); the model is reached through the ModelSession. This
object turns user actions into those calls and tells the view what changed. It is
the only part of the window that reads the history store.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.conversation import Attached, ChatDefaults, Conversation, ReplyRecorder, Request
from app.core.documents.persist import load_attachments, stored_token_counts
from app.core.export import thread_markdown
from app.core.store import Store, StoredMessage, StoreError, Thread
from app.ui.chat.thread_list import ThreadListModel
from app.ui.models.model_session import ModelSession
from app.ui.settings.app_settings import AppSettings

log = logging.getLogger(__name__)
VIEW_UPDATE_MS = 33  # events reach the view at ~30 Hz, however fast tokens come
ENGINE_KEY = "engine"  # in a thread's settings: what answers there (see thread_engine)
NO_MODEL = "No model is loaded yet. Load one with Open model… or Models… above, then send again."


@dataclass(frozen=True, slots=True)
class ContextReading:
    """How full the context would be if the conversation (and what is typed and attached) went now."""

    conversation: int  # system prompt, history, typed text
    documents: int  # attached, not yet sent
    reserve: int  # kept free for the reply
    size: int
    counting: bool = False  # some attachment is still being counted
    estimated: bool = False  # the counts are estimates (a server with no tokenizer to ask)
    size_assumed: bool = False  # the server does not say how large its context is

    @property
    def used(self) -> int:
        return self.conversation + self.documents


@dataclass
class _Stream:
    request_id: int
    message_id: int
    recorder: ReplyRecorder
    cancel: threading.Event = field(default_factory=threading.Event)
    answer_now: threading.Event = field(default_factory=threading.Event)
    pending: list = field(default_factory=list)  # events not yet shown


class ChatSession(QObject):
    threads_changed = Signal()
    conversation_changed = Signal(object, object)  # list[StoredMessage] on the branch, {id: (n, of)} siblings
    stream_updated = Signal(int, object)  # message id, list of events
    message_finished = Signal(object)  # StoredMessage
    busy_changed = Signal(bool)
    notice = Signal(str)  # a message for the person (errors, what to do next)
    stats_updated = Signal(object)  # Stats of the last reply
    rate_updated = Signal(object)  # RateEvent: speed so far of the reply streaming now
    context_measured = Signal(object)  # ContextReading
    repeating = Signal(object)  # RepeatEvent: the reply's thinking seems to go in circles

    def __init__(self, store: Store, settings: AppSettings, models: ModelSession) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.models = models
        self.conversation = Conversation(store, None, self._defaults())
        self.extra: dict = {}  # this session's sampling changes (the self-test's grammar)
        self.thinking_choice: dict | None = None  # the composer's (set_thinking_choice)
        self.draft = ""  # typed, not yet sent
        self.thread_model = ThreadListModel(self)
        self._search = ""
        self._stream: _Stream | None = None
        self._documents = (0, False)  # tokens attached but not sent, still counting
        self._count_id: int | None = None
        self._measuring: Request | None = None  # what the pending count measures
        self._closed = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(VIEW_UPDATE_MS)
        self._flush_timer.timeout.connect(self._flush)
        models.events_ready.connect(self._on_events)
        models.generation_finished.connect(self._on_finished)
        models.generation_failed.connect(self._on_failed)
        models.prompt_counted.connect(self._on_counted)
        models.model_changed.connect(lambda state, _text: state == "ready" and self.measure_context())
        settings.changed.connect(self._settings_changed)
        self.conversation_changed.connect(lambda *_: self.measure_context())
        interrupted = store.mark_interrupted()
        if interrupted:
            log.info("%d replies were interrupted by the last exit", interrupted)
        self.refresh_threads()

    @classmethod
    def create(cls, store: Store, settings, factory=None, states=None) -> ChatSession:
        """The window's sessions over `store` with `settings` (Settings or AppSettings);
        `factory` makes engines (default: llama.cpp); `states` keeps conversations' read
        prompts on disk (a StateStore; None: not kept)."""
        holder = settings if isinstance(settings, AppSettings) else AppSettings(settings)
        models = ModelSession(holder, states=states) if factory is None else ModelSession(holder, factory, states)
        return cls(store, holder, models)

    def _settings_changed(self, *_args) -> None:
        # The open thread follows new defaults (system prompt, sampling, budget) at once,
        # not only after it is reopened; its own overrides still win.
        self.conversation.defaults = self._defaults()
        self.measure_context()

    def _defaults(self) -> ChatDefaults:
        s = self.settings.value
        return ChatDefaults(s.system_prompt, s.gen_params())

    def _conversation(self, thread_id: int | None) -> Conversation:
        return Conversation(self.store, thread_id, self._defaults(), self.extra)

    def set_thinking_choice(self, once: dict | None) -> None:
        """The composer's thinking choice for the messages it sends (a budget, or Answer
        directly); None follows the thread's own budget."""
        self.thinking_choice = dict(once) if once else None

    def set_session_params(self, changes: dict) -> None:
        """Sampling changes for this session only, over threads' values and the settings."""
        self.extra = dict(changes)
        self.conversation.extra = dict(changes)

    @property
    def thread_id(self) -> int | None:
        return self.conversation.thread_id

    # -- threads ---------------------------------------------------------------------

    def refresh_threads(self, search: str | None = None) -> None:
        """Bring the thread list up to date (row by row) with the history."""
        if search is not None:
            self._search = search.strip()
        search = self._search
        snippets = self.store.search_snippets(search) if search else None
        self.thread_model.sync(self.store.list_threads(search or None), snippets, search)
        self.threads_changed.emit()

    def thread(self, thread_id: int | None) -> Thread | None:
        return self.store.get_thread(thread_id) if thread_id else None

    def message(self, message_id: int) -> StoredMessage | None:
        return self.store.get_message(message_id)

    def last_answer(self) -> str | None:
        """The text of the newest answer on the branch on screen (None if nothing was answered)."""
        return next((m.content for m in reversed(self.conversation.path()) if m.role == "assistant" and m.content), None)

    def last_question_id(self) -> int | None:
        """The newest question on the branch on screen, for editing it again."""
        return next((m.id for m in reversed(self.conversation.path()) if m.role == "user"), None)

    def new_thread(self) -> int:
        thread = self.store.create_thread()
        self.select_thread(thread.id)
        self.refresh_threads()
        return thread.id

    def select_thread(self, thread_id: int | None) -> None:
        self.conversation = self._conversation(thread_id)
        self._show()

    def _show(self) -> None:
        c = self.conversation
        self.conversation_changed.emit(c.path(), c.sibling_positions())

    def rename_thread(self, thread_id: int, title: str) -> None:
        if title.strip():
            self.store.rename_thread(thread_id, title.strip())
            self.refresh_threads()

    def delete_thread(self, thread_id: int) -> None:
        """Soft delete: `restore_thread` undoes it until the app quits."""
        if self._stream and self.thread_id == thread_id:
            self.stop()
        self.store.delete_thread(thread_id)
        if self.thread_id == thread_id:
            self.select_thread(None)
        self.refresh_threads()

    def restore_thread(self, thread_id: int) -> None:
        self.store.restore_thread(thread_id)
        self.refresh_threads()

    def export_markdown(self, thread_id: int) -> tuple[str, str] | None:
        """(title, Markdown) of a thread's branch on screen."""
        thread = self.thread(thread_id)
        if thread is None:
            return None
        return thread.title, thread_markdown(thread.title, self.store.path(thread_id))

    def set_thread_settings(self, thread_id: int, system_prompt: str | None, overrides: dict) -> None:
        """This thread's own system prompt (None: the default) and sampling values."""
        engine = self.thread_engine(thread_id)
        settings = dict(overrides) if engine is None else {**overrides, ENGINE_KEY: engine}
        self.store.update_thread_settings(thread_id, system_prompt=system_prompt, settings=settings)
        self.measure_context()  # the system prompt is part of what the context holds

    def thread_engine(self, thread_id: int | None) -> str | None:
        """What answers in this thread: a saved connection's name, "" for this computer, or
        None when the thread has not chosen (it follows the engine in use)."""
        thread = self.thread(thread_id)
        value = thread.settings.get(ENGINE_KEY) if thread is not None else None
        return value if isinstance(value, str) else None

    def set_thread_engine(self, thread_id: int, engine: str) -> None:
        """Remember what answers in this thread (kept with its other settings)."""
        thread = self.thread(thread_id)
        if thread is not None and thread.settings.get(ENGINE_KEY) != engine:
            self.store.update_thread_settings(thread_id, settings={**thread.settings, ENGINE_KEY: engine})

    def rename_engine(self, old: str, new: str) -> int:
        """Every thread that used connection `old` now uses `new` ("" for this computer, when
        it was removed). Returns how many threads changed."""
        changed = 0
        for thread in self.store.list_threads():
            if thread.settings.get(ENGINE_KEY) == old:
                self.store.update_thread_settings(thread.id, settings={**thread.settings, ENGINE_KEY: new})
                changed += 1
        return changed

    # -- documents of sent turns -------------------------------------------------------

    def attachments(self, message_id: int) -> list:
        """(Document, DocumentPlan) pairs a question was sent with."""
        return load_attachments(self.store, message_id)

    def known_token_counts(self, docs: list) -> dict[str, int]:
        """Whole-text counts stored for these documents under the loaded model."""
        key = self.models.engine_key
        if not key or not self.models.model_ready:
            return {}
        return stored_token_counts(self.store, docs, key)

    @property
    def history_path(self):
        return self.store.db_path

    # -- the context meter -------------------------------------------------------------

    def set_draft(self, text: str) -> None:
        """The composer's unsent text, for the context meter."""
        if text != self.draft and not self._closed:
            self.draft = text
            self.measure_context()

    def set_pending_documents(self, tokens: int, counting: bool) -> None:
        """What the attached, unsent documents will take (the documents panel's count)."""
        if (tokens, counting) != self._documents:
            self._documents = (tokens, counting)
            self.measure_context()

    def measure_context(self) -> None:
        """Ask the model how much of the context the conversation takes."""
        if self._closed or self.busy or not self.models.model_ready:
            return
        self._measuring = self.conversation.draft_request(self.draft)
        self._count_id = self.models.count(self._measuring.messages)

    def _on_counted(self, request_id: int, tokens: int, size: int) -> None:
        if request_id != self._count_id or self._closed:
            return  # an older measurement, or one that came back after closing
        docs, counting = self._documents
        reserve = self._measuring.reserve(size)
        remote = self.models.remote if self.models.on_server else None
        estimated, assumed = (remote.counts_estimated, not remote.context_known) if remote else (False, False)
        self.context_measured.emit(ContextReading(tokens, docs, reserve, size, counting, estimated, assumed))

    # -- sending ---------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._stream is not None

    def position(self) -> tuple[int | None, int | None]:
        """(thread, last message on the branch): a send planned at one position must not land at another."""
        path = self.conversation.path()
        return self.thread_id, path[-1].id if path else None

    def request_for(self, text: str) -> Request:
        """What asking `text` now would send, before documents (the documents panel fits them)."""
        return self.conversation.request(text)

    def send(self, text: str, attached: Attached | None = None) -> bool:
        """Ask `text` in the current thread. False (text kept by the view) if it cannot start."""
        text = text.strip()
        if not text or self.busy:
            return False
        if not self.models.model_ready:
            self.notice.emit(NO_MODEL)
            return False
        try:
            turn = self.conversation.ask(text, attached, self.thinking_choice)
        except StoreError as exc:  # a full disk: nothing is sent, the text stays in the composer
            self.notice.emit(exc.user_message)
            return False
        if turn.notice:
            self.notice.emit(turn.notice)
        self._start(turn)
        return True

    def regenerate(self, assistant_id: int) -> None:
        if not self.busy and self.models.model_ready:
            self._start(self.conversation.regenerate(assistant_id))

    def edit_and_resend(self, user_id: int, text: str) -> None:
        if not self.busy and self.models.model_ready:
            self._start(self.conversation.edit(user_id, text))

    def _start(self, turn) -> None:
        if turn is None:
            return
        self.refresh_threads()
        stream = _Stream(0, turn.reply.id, ReplyRecorder(self.store, turn.reply.id))
        self._stream = stream
        self._show()
        self.busy_changed.emit(True)
        stream.request_id = self.models.generate(turn.request, stream.cancel, stream.answer_now)

    def switch_branch(self, message_id: int, step: int) -> None:
        siblings = [m.id for m in self.store.siblings(message_id)]
        if message_id in siblings and not self.busy:
            target = siblings[max(0, min(len(siblings) - 1, siblings.index(message_id) + step))]
            self.store.select(target)
            self._show()

    def delete_message(self, message_id: int) -> None:
        if not self.busy:
            self.store.delete_message(message_id)
            self._show()

    def set_reasoning_expanded(self, message_id: int, expanded: bool) -> None:
        self.store.set_reasoning_expanded(message_id, expanded)

    def stop(self) -> None:
        if self._stream:
            self._stream.cancel.set()

    def answer_now(self) -> None:
        if self._stream:
            self._stream.answer_now.set()

    # -- the reply streaming -------------------------------------------------------------

    def _on_events(self, request_id: int, events: list) -> None:
        stream = self._stream
        if stream is None or stream.request_id != request_id:
            return
        stream.recorder.add(events)
        for ev in events:
            if ev.kind == "rate":
                self.rate_updated.emit(ev)
            elif ev.kind == "repeating":
                self.repeating.emit(ev)
            elif ev.kind == "notice":
                self.notice.emit(ev.text)
        stream.pending.extend(events)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        """Hand the events gathered since the last update to the view; save every second."""
        self._flush_timer.stop()
        stream = self._stream
        if stream is None or not stream.pending:
            return
        events, stream.pending = stream.pending, []
        self.stream_updated.emit(stream.message_id, events)
        notice = stream.recorder.save_if_due()
        if notice:  # a full disk: said once, streaming goes on, saving is tried each second
            self.notice.emit(notice)

    def _on_finished(self, request_id: int) -> None:
        stream = self._stream
        if stream is not None and stream.request_id == request_id:
            self._finish(stream)

    def _on_failed(self, request_id: int, message: str) -> None:
        stream = self._stream
        if stream is not None and stream.request_id == request_id:
            self._finish(stream, "error", message)
            self.notice.emit(message)

    def _finish(self, stream: _Stream, state: str | None = None, error: str | None = None) -> None:
        self._flush()
        shown, notice = stream.recorder.finish(state, error)
        if notice:
            self.notice.emit(notice)
        self._stream = None
        if stream.recorder.stats:
            self.stats_updated.emit(stream.recorder.stats)
        self.message_finished.emit(shown)
        self.busy_changed.emit(False)
        self.measure_context()

    # -- shutdown --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the reply, end the model's thread, and keep what came of the reply."""
        self._closed = True
        self._flush_timer.stop()
        if self._stream is not None:
            self._stream.cancel.set()
        self.models.shutdown()
        if self._stream is not None:  # the reply never finished: keep what came
            stream, self._stream = self._stream, None
            stream.recorder.finish("cancelled")
