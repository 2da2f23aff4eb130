"""The model on the GUI thread: loading (with the fit plan and the out-of-memory retry),
and the one worker thread that owns the engine. Everything else reaches the model
through the public methods here: generation, token counts, fitting documents.

It never blocks on the model: requests go to the worker as queued signals, answers
come back as signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal

from app.context_states import budget_bytes
from app.core.conversation import Request
from app.core.engine_contract import LoadParams
from app.core.types import Message
from app.ui.models.generation_worker import (
    EngineFactory,
    GenerationWorker,
    LoadedModel,
    RemoteFacts,
    RemoteOpener,
    llama_factory,
)
from app.ui.settings.app_settings import AppSettings
from app.ui.thread_exit import end_thread


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A load that failed, for the banner that says so and offers what to do next."""

    path: str  # the file that failed
    message: str  # why, for people
    retry_layers: int | None = None  # out of memory: the layers the estimate says fit
    kept: str | None = None  # the name of the model that worked, still loaded (or loading again)
    reloading: bool = False  # that model made room for this one and is being loaded again
    file_problem: bool = False  # the file is damaged, missing or no model: trying again cannot help


def _load_settings(s) -> tuple[int, int, str]:
    """The settings a loaded model depends on: changing one reloads it."""
    return s.n_gpu_layers, s.context_size, s.kv_cache


class ModelSession(QObject):
    model_changed = Signal(str, str)  # state: none|loading|ready|failed, text for people
    load_failed = Signal(object)  # LoadFailure: before model_changed says what is loaded now
    load_planned = Signal(object)  # LoadPlan for the load under way (the layers slider's input)
    retry_suggested = Signal(int)  # layers to retry with after running out of memory
    notice = Signal(str)  # a message for the person
    generating_changed = Signal(bool)
    # Answers from the worker, by request id (see GenerationWorker).
    events_ready = Signal(int, object)
    generation_finished = Signal(int)
    generation_failed = Signal(int, str)
    prompt_counted = Signal(int, int, int)  # request id, tokens, context size
    documents_counted = Signal(int, object)  # request id, token counts
    documents_planned = Signal(int, object, object)  # request id, ContextPlan, Request (or None, None)
    engine_changed = Signal(object)  # RemoteFacts of the model server answering now, or None: this computer
    remote_failed = Signal(str, str)  # connection name, why it cannot be used (this computer answers)

    _load_requested = Signal(str, object)
    _count_requested = Signal(int, object)
    _count_documents_requested = Signal(int, object)
    _plan_requested = Signal(int, object, object, object)
    _generate_requested = Signal(int, object, object, object, object)
    _task_requested = Signal(object)
    _open_remote_requested = Signal(int, str, object)
    _use_local_requested = Signal()

    def __init__(self, settings: AppSettings, factory: EngineFactory = llama_factory, states=None) -> None:
        super().__init__()
        self.settings = settings
        # Where each conversation's read prompt is kept between loads and runs (a StateStore,
        # or None: not kept). Every load gets it; its budget follows the setting, no reload.
        self.states = states
        self.model_path: str | None = None
        self.model_name = ""
        self.context_size = 0
        self.load_plan = None  # LoadPlan of the model loaded or loading
        self.loading_path: str | None = None  # the file loading now
        self.restoring = False  # the load under way puts back the model that worked
        self.failed_path: str | None = None  # the model whose load failed last (for a retry)
        self._failed_params: LoadParams | None = None  # and what that load asked for
        self._loading_params: LoadParams | None = None
        self._working: tuple = (None, None)  # LoadParams and LoadPlan of the model loaded
        self._retry: int | None = None
        self._pending = 0  # loads asked for and not answered yet
        self._quiet = False  # a settings change made here, which must not reload
        self.template_problem: str | None = None
        self._generating: int | None = None  # request id of the reply being generated
        self._next_request = 0
        # A model server in use (remote) or being opened (connecting) answers instead of the
        # local model, which stays loaded; the local model's own state is kept for when it
        # is chosen again (shown while no server is in use).
        self.remote: RemoteFacts | None = None
        self.connecting: str | None = None
        self._ticket = 0  # the latest server asked for: an older one's answer is stale
        self._local_shown: tuple[str, str] = ("none", "No model loaded")
        self._local_stale = False  # load settings changed while a server answered
        self._closing = threading.Event()  # set when the window closes: a load under way stops
        self._thread = QThread()
        self._thread.setObjectName("generation")
        self._worker = GenerationWorker(factory, self._closing)
        self._worker.moveToThread(self._thread)
        # Direct: runs on the worker's thread as its loop ends, after whatever it was doing.
        self._thread.finished.connect(self._worker.close, Qt.ConnectionType.DirectConnection)
        w = self._worker
        self._load_requested.connect(w.load)
        self._generate_requested.connect(w.generate)
        self._count_requested.connect(w.count)
        self._count_documents_requested.connect(w.count_documents)
        self._plan_requested.connect(w.plan_documents)
        self._task_requested.connect(w.run_task)
        self._open_remote_requested.connect(w.open_remote)
        self._use_local_requested.connect(w.use_local)
        w.remote_opened.connect(self._on_remote_opened)
        w.remote_failed.connect(self._on_remote_failed)
        w.model_loaded.connect(self._on_model_loaded)
        w.model_failed.connect(self._on_model_failed)
        w.load_planned.connect(self._on_load_planned)
        w.retry_suggested.connect(self._on_retry_suggested)
        w.room_made.connect(self._on_room_made)
        w.load_progress.connect(self._on_load_progress)
        w.events_ready.connect(self.events_ready)
        w.generation_finished.connect(self._on_generation_finished)
        w.generation_failed.connect(self._on_generation_failed)
        w.prompt_counted.connect(self.prompt_counted)
        w.documents_counted.connect(self.documents_counted)
        w.documents_planned.connect(self.documents_planned)
        settings.changed.connect(self._settings_changed)
        self._thread.start()

    # -- loading ---------------------------------------------------------------------------
    # The model that works (model_path, model_name, context_size) stays loaded and named
    # here while another loads, and stays if that one fails. Only when both cannot be in
    # memory at once does the worker close it first (room_made); then a failure loads it
    # again with the settings it had (restoring).

    def load_model(self, path: str) -> None:
        self.use_local()  # choosing a model file means this computer answers
        self._load(path, self._params())

    def _params(self) -> LoadParams:
        """What the load settings ask for: layers, context and the context cache's precision
        (the worker resolves "auto" layers and cache against the machine), and where the
        conversations' states are kept."""
        s = self.settings.value
        return LoadParams(n_gpu_layers=s.n_gpu_layers, n_ctx=s.context_size, kv_cache_type=s.kv_cache,
                          states=self.states)

    def _load(self, path: str, params: LoadParams, restoring: bool = False) -> None:
        self.loading_path = path
        self._loading_params = params
        self.restoring = restoring
        self._retry = None
        self._pending += 1
        again = " again" if restoring else ""
        self._show("loading", f"Loading {Path(path).name}{again}…")
        self._load_requested.emit(path, params)

    @property
    def loading(self) -> bool:
        return self.loading_path is not None

    def _on_load_progress(self, percent: int) -> None:
        if self.loading_path:
            self._show("loading", f"Loading {Path(self.loading_path).name}… {percent}%")

    def _on_load_planned(self, plan) -> None:
        self.load_plan = plan
        self.load_planned.emit(plan)

    def _on_room_made(self) -> None:
        self.context_size = 0  # nothing is loaded until the new one is in (or the old one is back)

    def _on_retry_suggested(self, layers: int) -> None:
        self._retry = layers
        self.retry_suggested.emit(layers)

    def _on_model_loaded(self, loaded: LoadedModel) -> None:
        self._pending -= 1
        self.model_path, self.model_name, self.context_size = loaded.path, loaded.name, loaded.context_size
        self.template_problem = loaded.template_problem
        self._working = (loaded.params or self._loading_params, self.load_plan)
        if self._pending:
            return  # another load was asked for behind this one
        restored, self.loading_path, self.restoring = self.restoring, None, False
        if not restored:  # a model put back after a failure: that failure can still be retried
            self.failed_path, self._failed_params = None, None
        self._keep_settings(loaded.params)
        if not restored and loaded.path != self.settings.value.model_path:  # reopen it at the next start
            self.settings.update(model_path=loaded.path)
        self._show("ready", loaded.name)
        if loaded.template_problem:
            self.notice.emit(loaded.template_problem)

    def _on_model_failed(self, message: str, file_problem: bool = False) -> None:
        self._pending -= 1
        if self._pending:
            return  # another load was asked for behind this one: its outcome is what counts
        failed, params, restoring = self.loading_path, self._loading_params, self.restoring
        self.loading_path, self.restoring = None, False
        retry, self._retry = self._retry, None
        self.failed_path, self._failed_params = failed, params  # for "Try again"
        working, plan = self._working
        if self.model_path and self.context_size == 0 and not restoring and working is not None:
            # Closed to make room: put it back, with the settings it loaded with.
            self.load_failed.emit(LoadFailure(failed, message, retry, self.model_name, True, file_problem))
            self._load(self.model_path, working, restoring=True)
            return
        if self.model_path and self.context_size > 0:
            self._keep_settings(working)
            self.load_plan = plan  # the slider shows what is loaded, not what failed
            self.load_planned.emit(plan)
            self.load_failed.emit(LoadFailure(failed, message, retry, self.model_name, file_problem=file_problem))
            self._show("ready", self.model_name)
            return
        self.model_path, self.model_name, self.context_size, self._working = None, "", 0, (None, None)
        self.load_failed.emit(LoadFailure(failed, message, retry, file_problem=file_problem))
        self._show("failed", message)

    def retry_failed(self, layers: int | None = None) -> bool:
        """Load the file that failed last again, as it was asked for (with `layers` on the
        GPU when given: the out-of-memory retry). False when there is nothing to retry."""
        if self.failed_path is None or self.generating:
            return False
        self.use_local()
        params = self._failed_params or self._params()
        if layers is not None:
            params = replace(params, n_gpu_layers=layers)
        self._load(self.failed_path, params)
        return True

    def set_gpu_layers(self, layers: int) -> None:
        """Choose a layers setting (a count, or AUTO_LAYERS) and reload the model with it
        (or retry the model that just failed to load, when none is loaded)."""
        if self.model_path is None and not self.loading and self.failed_path:
            self.retry_failed(layers)
        else:
            self.settings.update(n_gpu_layers=layers)

    def _keep_settings(self, params: LoadParams | None) -> None:
        """Make the layers, context and context cache settings those of the model that is
        loaded, so the next start opens it the way that worked (without reloading it now)."""
        s = self.settings.value
        if params is None or _load_settings(s) == (params.n_gpu_layers, params.n_ctx, params.kv_cache_type):
            return
        self._quiet = True
        try:
            self.settings.update(n_gpu_layers=params.n_gpu_layers, context_size=params.n_ctx,
                                 kv_cache=params.kv_cache_type)
        finally:
            self._quiet = False

    def _settings_changed(self, new, old) -> None:
        if self.states is not None and new.saved_states_gb != old.saved_states_gb:
            self.states.budget_bytes = budget_bytes(new.saved_states_gb)  # read afresh by each save
            if new.saved_states_gb < old.saved_states_gb:
                # Free the disk now, not at the next save; off the GUI thread, as the store waits
                # for a save in progress (seconds for a long state).
                threading.Thread(target=self.states.trim, name="trim-saved-states", daemon=True).start()
        reload = _load_settings(new) != _load_settings(old)
        if reload and self.on_server:
            self._local_stale = True  # reloaded when this computer is chosen again
            return
        target = self.loading_path or self.model_path
        if reload and target and not self._quiet and not self.generating:
            self.load_model(target)

    @property
    def model_ready(self) -> bool:
        """A model is loaded and no other is loading (the worker would answer after the load),
        or a model server is open."""
        if self.on_server:
            return self.remote is not None and self.connecting is None
        return self.context_size > 0 and self.model_path is not None and self.loading_path is None

    @property
    def engine_key(self) -> str | None:
        """Whose tokenizer counts now: the local file, or the server and its model."""
        return self.remote.key if self.on_server and self.remote else self.model_path

    # -- a model server instead of the local model ---------------------------------------------

    def _show(self, state: str, text: str) -> None:
        """The local model's state, shown while no server answers instead."""
        self._local_shown = (state, text)
        if not self.on_server:
            self.model_changed.emit(state, text)

    @property
    def on_server(self) -> bool:
        """A model server answers (or is being opened to) instead of the local model."""
        return self.remote is not None or self.connecting is not None

    def use_remote(self, name: str, opener: RemoteOpener) -> None:
        """Let connection `name` answer: `opener` opens it on the worker's thread. Answered
        by engine_changed(RemoteFacts) and model_changed("ready"), or remote_failed."""
        self._ticket += 1
        self.connecting = name
        self.model_changed.emit("loading", f"Connecting to {name}…")
        self._open_remote_requested.emit(self._ticket, name, opener)

    def use_local(self) -> None:
        """This computer answers again (the local model, as it was left)."""
        if not self.on_server:
            return
        self._ticket += 1  # a server still being opened is dropped when it answers
        self.remote = self.connecting = None
        self._use_local_requested.emit()
        self.engine_changed.emit(None)
        target = self.loading_path or self.model_path
        if self._local_stale and target and not self.generating:
            self._local_stale = False
            self.load_model(target)  # with the layers and context chosen meanwhile
        else:
            self.model_changed.emit(*self._local_shown)

    def _on_remote_opened(self, ticket: int, facts: RemoteFacts) -> None:
        if ticket != self._ticket:
            return
        self.connecting, self.remote = None, facts
        self.engine_changed.emit(facts)
        self.model_changed.emit("ready", facts.model)

    def _on_remote_failed(self, ticket: int, message: str) -> None:
        if ticket != self._ticket:
            return
        name = self.connecting or (self.remote.connection if self.remote else "")
        self.remote = self.connecting = None
        self.engine_changed.emit(None)
        self.remote_failed.emit(name, message)
        self.model_changed.emit(*self._local_shown)

    # -- requests to the model ---------------------------------------------------------------

    def _request_id(self) -> int:
        self._next_request += 1
        return self._next_request

    @property
    def generating(self) -> bool:
        return self._generating is not None

    def generate(self, request: Request, cancel: threading.Event, answer_now: threading.Event) -> int:
        """Start a reply; its events come back as events_ready(id, events), then
        generation_finished(id) or generation_failed(id, message)."""
        request_id = self._request_id()
        self._generating = request_id
        self.generating_changed.emit(True)
        self._generate_requested.emit(request_id, request.messages, request.params, cancel, answer_now)
        return request_id

    def _on_generation_finished(self, request_id: int) -> None:
        self.generation_finished.emit(request_id)
        self._done(request_id)

    def _on_generation_failed(self, request_id: int, message: str) -> None:
        self.generation_failed.emit(request_id, message)
        self._done(request_id)

    def _done(self, request_id: int) -> None:
        if self._generating == request_id:
            self._generating = None
            self.generating_changed.emit(False)

    def count(self, messages: list[Message]) -> int | None:
        """Measure a conversation (answered by prompt_counted); None when no model is ready."""
        if not self.model_ready:
            return None
        request_id = self._request_id()
        self._count_requested.emit(request_id, messages)
        return request_id

    def count_documents(self, docs: list) -> int | None:
        """Whole-text token counts for `docs` (answered by documents_counted)."""
        if not self.model_ready:
            return None
        request_id = self._request_id()
        self._count_documents_requested.emit(request_id, docs)
        return request_id

    def plan_documents(self, request: Request, docs: list, known: dict) -> int | None:
        """Fit `docs` into `request` (answered by documents_planned)."""
        if not self.model_ready:
            return None
        request_id = self._request_id()
        self._plan_requested.emit(request_id, request, docs, known)
        return request_id

    def run_on_model_thread(self, task) -> None:
        """Run `task(engine)` on the model's thread once what was asked before is done
        (first come, first served with the window's own replies). Callable from any
        thread: the local server's requests come from its own."""
        self._task_requested.emit(task)

    # -- shutdown ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self) -> bool:
        """End the worker's thread (a reply must be cancelled first); the model is freed on
        that thread as it ends. A load under way is stopped at its next tensor. Waits a
        bounded time: False if the worker was still busy (see thread_exit)."""
        self._closing.set()
        return end_thread(self._thread)
