"""ChatController: the conversation's state on the GUI thread.

It owns the worker thread and the store, turns user actions into store changes and
generation requests, and tells the view what changed. It never blocks on the model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, QTimer, Signal

from app.core.documents.history import join_block, stored_blocks, with_instruction
from app.core.engine import LoadParams
from app.core.store import Store, StoredMessage, StoreError
from app.core.types import GenParams, Message, Stats
from app.settings import Settings
from app.ui.models.generation_worker import EngineFactory, GenerationWorker, llama_factory

log = logging.getLogger(__name__)
SAVE_EVERY_SECONDS = 1.0  # a killed app loses at most this much of a streaming reply
VIEW_UPDATE_MS = 33  # events reach the view at ~30 Hz, however fast tokens come
_FINAL_STATE = {"stop": "complete", "length": "complete", "cancelled": "cancelled", "error": "error"}


@dataclass
class _Stream:
    request_id: int
    message_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    answer_now: threading.Event = field(default_factory=threading.Event)
    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    stats: Stats | None = None
    error: str | None = None
    saved_at: float = field(default_factory=time.monotonic)
    pending: list = field(default_factory=list)  # events not yet shown
    save_failed: bool = False  # the last save met a full disk (said once, retried each second)


class ChatController(QObject):
    threads_changed = Signal()
    conversation_changed = Signal(object)  # list[StoredMessage]: the current branch
    stream_updated = Signal(int, object)  # message id, list of events (see workers.events_ready)
    message_finished = Signal(object)  # StoredMessage
    busy_changed = Signal(bool)
    model_changed = Signal(str, str)  # state: none|loading|ready|failed, text for people
    load_planned = Signal(object)  # LoadPlan for the load under way (the layers slider's input)
    retry_suggested = Signal(int)  # layers to retry with after running out of memory
    notice = Signal(str)  # a message for the person (errors, what to do next)
    stats_updated = Signal(object)  # Stats of the last reply
    rate_updated = Signal(object)  # RateEvent: speed so far of the reply streaming now
    settings_changed = Signal(object)  # Settings, to be saved
    context_measured = Signal(int, int, int)  # conversation tokens, reserved for the reply, context size

    _load_requested = Signal(str, object)
    _count_requested = Signal(object)
    _generate_requested = Signal(int, object, object, object, object)

    def __init__(self, store: Store, settings: Settings, factory: EngineFactory = llama_factory) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.thread_id: int | None = None
        self.model_path: str | None = None
        self.context_size = 0
        self.load_plan = None  # LoadPlan of the model loaded or loading
        self.failed_path: str | None = None  # the model whose load failed last (for a retry)
        self.draft = ""  # typed, not yet sent
        self._stream: _Stream | None = None
        self._next_request = 0
        self.param_overrides: dict = {}  # per-session GenParams changes (the self-test's grammar)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(VIEW_UPDATE_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._thread = QThread()
        self._thread.setObjectName("generation")
        self._worker = GenerationWorker(factory)
        self._worker.moveToThread(self._thread)
        self._load_requested.connect(self._worker.load)
        self._generate_requested.connect(self._worker.generate)
        self._worker.model_loaded.connect(self._on_model_loaded)
        self._worker.model_failed.connect(self._on_model_failed)
        self._worker.load_planned.connect(self._on_load_planned)
        self._worker.retry_suggested.connect(self.retry_suggested)
        self._worker.load_progress.connect(self._on_load_progress)
        self._worker.events_ready.connect(self._on_events)
        self._worker.generation_finished.connect(self._on_finished)
        self._worker.generation_failed.connect(self._on_failed)
        self._count_requested.connect(self._worker.count)
        self._worker.prompt_counted.connect(self._on_counted)
        self.conversation_changed.connect(lambda _: self.measure_context())
        self._thread.start()
        interrupted = store.mark_interrupted()
        if interrupted:
            log.info("%d replies were interrupted by the last exit", interrupted)

    # -- model -----------------------------------------------------------------------

    def load_model(self, path: str) -> None:
        self.model_path = path
        self.model_changed.emit("loading", f"Loading {path.rsplit('/', 1)[-1]}…")
        load = LoadParams(n_gpu_layers=self.settings.n_gpu_layers, n_ctx=self.settings.context_size)
        self._load_requested.emit(path, load)

    def _on_load_progress(self, percent: int) -> None:
        if self.model_path:
            self.model_changed.emit("loading", f"Loading {self.model_path.rsplit('/', 1)[-1]}… {percent}%")

    def _on_load_planned(self, plan) -> None:
        self.load_plan = plan
        self.load_planned.emit(plan)

    def set_gpu_layers(self, layers: int) -> None:
        """Choose a layers setting (a count, or AUTO_LAYERS) and reload the model with it
        (or retry the model that just failed to load)."""
        self.apply_settings(self.settings.with_changes(n_gpu_layers=layers))
        if self.model_path is None and self.failed_path and not self.busy:
            self.load_model(self.failed_path)

    def _on_model_loaded(self, path: str, context_size: int) -> None:
        self.context_size = context_size
        self.measure_context()
        if path != self.settings.model_path:  # reopen it at the next start
            self.settings = self.settings.with_changes(model_path=path)
            self.settings_changed.emit(self.settings)
        self.model_changed.emit("ready", path.rsplit("/", 1)[-1])

    def measure_context(self) -> None:
        """Ask the worker how much of the context the current conversation takes."""
        if not self.model_ready or self.busy:
            return
        path = self.store.path(self.thread_id) if self.thread_id else []
        messages = self._history(path[-1]) if path else self._system_messages(None)
        if self.draft.strip():  # what is typed but not sent yet counts too
            messages = [*messages, Message("user", self.draft)]
        self._count_requested.emit(messages)

    def set_draft(self, text: str) -> None:
        """The composer's unsent text, for the context meter."""
        if text != self.draft and self._thread.isRunning():  # not after shutdown
            self.draft = text
            self.measure_context()

    def _on_counted(self, tokens: int, context_size: int) -> None:
        reserve = min(self.settings.max_tokens, 1024, context_size // 4)
        self.context_measured.emit(tokens, reserve, context_size)

    def _on_model_failed(self, message: str) -> None:
        self.failed_path, self.model_path = self.model_path, None
        self.model_changed.emit("failed", message)
        self.notice.emit(message)

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings from the next reply on; reload the model if its load options changed."""
        reload = (settings.context_size, settings.n_gpu_layers) != (self.settings.context_size, self.settings.n_gpu_layers)
        self.settings = settings
        self.settings_changed.emit(settings)
        if reload and self.model_path and not self.busy:
            self.load_model(self.model_path)

    @property
    def model_ready(self) -> bool:
        return self.context_size > 0 and self.model_path is not None

    # -- threads ---------------------------------------------------------------------

    def new_thread(self) -> int:
        thread = self.store.create_thread()
        self.select_thread(thread.id)
        self.threads_changed.emit()
        return thread.id

    def select_thread(self, thread_id: int | None) -> None:
        self.thread_id = thread_id
        self.conversation_changed.emit(self.store.path(thread_id) if thread_id else [])

    def rename_thread(self, thread_id: int, title: str) -> None:
        if title.strip():
            self.store.rename_thread(thread_id, title.strip())
            self.threads_changed.emit()

    def delete_thread(self, thread_id: int) -> None:
        """Soft delete: `restore_thread` undoes it until the app quits."""
        if self._stream and self.thread_id == thread_id:
            self.stop()
        self.store.delete_thread(thread_id)
        if self.thread_id == thread_id:
            self.select_thread(None)
        self.threads_changed.emit()

    def restore_thread(self, thread_id: int) -> None:
        self.store.restore_thread(thread_id)
        self.threads_changed.emit()

    # -- messages --------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._stream is not None

    def send(self, text: str, prompt: list[Message] | None = None, attach=None) -> bool:
        """Ask `text` in the current thread. False (text kept by the view) if it cannot start.

        With documents, `prompt` is what goes to the model (they are in it) and
        `attach(user_message_id)` stores them with the message (see documents_panel)."""
        text = text.strip()
        if not text or self.busy:
            return False
        if not self.model_ready:
            self.notice.emit("No model is loaded yet. Open a model file (Model → Open) and send again.")
            return False
        try:
            if self.thread_id is None:
                self.thread_id = self.store.create_thread(title=_title_from(text)).id
                self.threads_changed.emit()
            path = self.store.path(self.thread_id)
            if not path:
                self.store.rename_thread(self.thread_id, _title_from(text))
            user = self.store.add_message(self.thread_id, path[-1].id if path else None, "user", text)
        except StoreError as exc:  # a full disk: nothing is sent, the text stays in the composer
            self.notice.emit(exc.user_message)
            return False
        if attach is not None:
            attach(user.id)
        self._reply_to(user, prompt)
        self.threads_changed.emit()
        return True

    def prompt_for(self, text: str) -> list[Message]:
        """The messages sending `text` now would give the model, before new documents."""
        path = self.store.path(self.thread_id) if self.thread_id else []
        history = self._history(path[-1]) if path else self._system_messages(None)
        return history + [Message("user", text.strip())]

    def regenerate(self, assistant_id: int) -> None:
        message = self.store.get_message(assistant_id)
        if message is None or self.busy or not self.model_ready or message.parent_id is None:
            return
        self._reply_to(self.store.get_message(message.parent_id))

    def edit_and_resend(self, user_id: int, text: str) -> None:
        message = self.store.get_message(user_id)
        if message is None or self.busy or not self.model_ready or not text.strip():
            return
        edited = self.store.add_message(message.thread_id, message.parent_id, "user", text.strip())
        self.store.copy_attachments(user_id, edited.id)  # the edited question keeps its documents
        self._reply_to(edited)

    def switch_branch(self, message_id: int, step: int) -> None:
        siblings = self.store.siblings(message_id)
        ids = [m.id for m in siblings]
        if message_id in ids and not self.busy:
            target = ids[max(0, min(len(ids) - 1, ids.index(message_id) + step))]
            self.store.select(target)
            self.select_thread(self.thread_id)

    def delete_message(self, message_id: int) -> None:
        if not self.busy:
            self.store.delete_message(message_id)
            self.select_thread(self.thread_id)

    def set_reasoning_expanded(self, message_id: int, expanded: bool) -> None:
        self.store.set_reasoning_expanded(message_id, expanded)

    def stop(self) -> None:
        if self._stream:
            self._stream.cancel.set()

    def answer_now(self) -> None:
        if self._stream:
            self._stream.answer_now.set()

    # -- generation ------------------------------------------------------------------

    def thread_overrides(self, thread_id: int | None) -> dict:
        """The sampling values this thread set for itself (only fields GenParams has)."""
        thread = self.store.get_thread(thread_id) if thread_id else None
        if thread is None:
            return {}
        return {k: v for k, v in thread.settings.items() if k in GenParams.__dataclass_fields__}

    def set_thread_settings(self, thread_id: int, system_prompt: str | None, overrides: dict) -> None:
        """This thread's own system prompt (None: the default) and sampling values."""
        self.store.update_thread_settings(thread_id, system_prompt=system_prompt, settings=overrides)
        self.measure_context()  # the system prompt is part of what the context holds

    def _system_messages(self, thread_id: int | None) -> list[Message]:
        thread = self.store.get_thread(thread_id) if thread_id else None
        system = thread.system_prompt if thread and thread.system_prompt is not None else self.settings.system_prompt
        return [Message("system", system)] if system else []

    def _history(self, upto: StoredMessage) -> list[Message]:
        messages = self._system_messages(upto.thread_id)
        path = self.store.path(upto.thread_id)
        path = path[:[m.id for m in path].index(upto.id) + 1] if upto.id in {m.id for m in path} else path
        blocks = stored_blocks(self.store, path)  # earlier turns' documents go in again, as first sent
        for m in path:
            # Earlier replies go back without their thinking, as the model's template does.
            if m.role in ("user", "assistant") and (m.content or m.role == "user"):
                messages.append(Message(m.role, join_block(blocks.get(m.id, ""), m.content)))
        return with_instruction(messages) if blocks else messages

    def _reply_to(self, user: StoredMessage, prompt: list[Message] | None = None) -> None:
        reply = self.store.add_message(user.thread_id, user.id, "assistant", state="streaming")
        self._next_request += 1
        self._stream = _Stream(self._next_request, reply.id)
        self.conversation_changed.emit(self.store.path(user.thread_id))
        self.busy_changed.emit(True)
        params = self.settings.gen_params(**{**self.thread_overrides(user.thread_id), **self.param_overrides})
        self._generate_requested.emit(
            self._stream.request_id, prompt or self._history(user), params, self._stream.cancel, self._stream.answer_now
        )

    def _on_events(self, request_id: int, events: list) -> None:
        stream = self._stream
        if stream is None or stream.request_id != request_id:
            return
        for ev in events:
            if ev.kind == "reasoning":
                if ev.moves_answer:
                    stream.answer.clear()
                stream.reasoning.append(ev.text)
            elif ev.kind == "answer":
                stream.answer.append(ev.text)
            elif ev.kind == "rate":
                self.rate_updated.emit(ev)
            elif ev.kind == "stats":
                stream.stats = ev.stats
            elif ev.kind == "error":
                stream.error = ev.message
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
        if time.monotonic() - stream.saved_at >= SAVE_EVERY_SECONDS:
            stream.saved_at = time.monotonic()
            try:
                self.store.update_stream(stream.message_id, "".join(stream.answer), "".join(stream.reasoning))
            except StoreError as exc:  # a full disk: say it once, keep streaming, try again next second
                if not stream.save_failed:
                    self.notice.emit(exc.user_message)
                stream.save_failed = True
            else:
                stream.save_failed = False

    def _on_finished(self, request_id: int) -> None:
        stream = self._stream
        if stream is None or stream.request_id != request_id:
            return
        stats = stream.stats
        state = _FINAL_STATE.get(stats.finish_reason if stats else "error", "error")
        self._finish(stream, state, stream.error, stats)

    def _on_failed(self, request_id: int, message: str) -> None:
        stream = self._stream
        if stream is not None and stream.request_id == request_id:
            self._finish(stream, "error", message, None)
            self.notice.emit(message)

    def _finish(self, stream: _Stream, state: str, error: str | None, stats: Stats | None) -> None:
        self._flush()
        content, reasoning = "".join(stream.answer).strip(), "".join(stream.reasoning).strip()
        try:
            self._save_finished(stream, state, error, stats, content, reasoning)
            shown = self.store.get_message(stream.message_id)
        except StoreError as exc:
            # The reply could not be saved (a full disk): it stays on screen as it is, and
            # the next start marks the saved part as interrupted.
            self.notice.emit(exc.user_message)
            shown = self.store.get_message(stream.message_id)
            if shown is not None:
                shown = replace(shown, state=state, content=content, reasoning=reasoning, error=error)
        self._stream = None
        if stats:
            self.stats_updated.emit(stats)
        self.message_finished.emit(shown)
        self.busy_changed.emit(False)
        self.measure_context()

    def _save_finished(self, stream: _Stream, state: str, error: str | None, stats: Stats | None,
                       content: str, reasoning: str) -> None:
        self.store.finish_message(
            stream.message_id,
            state=state,
            content=content,
            reasoning=reasoning,
            error=error,
            think_seconds=stats.think_seconds if stats else None,
            answer_seconds=stats.answer_seconds if stats else None,
            prompt_tokens=stats.prompt_tokens if stats else None,
            generated_tokens=stats.generated_tokens if stats else None,
            finish_reason=stats.finish_reason if stats else "error",
            reasoning_unfinished=bool(stats and stats.reasoning_unfinished),
            reasoning_tokens=stats.reasoning_tokens if stats else None,
        )

    # -- shutdown --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop generation, free the model on its own thread, and end the thread."""
        if not self._thread.isRunning():
            return
        self.stop()
        QMetaObject.invokeMethod(self._worker, "close", Qt.ConnectionType.BlockingQueuedConnection)
        self._thread.quit()
        self._thread.wait()
        if self._stream is not None:  # the reply never finished: keep what came
            self._finish(self._stream, "cancelled", None, self._stream.stats)


def _title_from(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "New thread"
    return line if len(line) <= 60 else line[:57].rstrip() + "…"
