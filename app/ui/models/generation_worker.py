"""The generation worker: the one object that touches the loaded model.

It lives in its own QThread. The GUI thread talks to it only through queued signals
(load, generate, close) and two threading.Events it sets directly (cancel, answer
now); the worker answers only through its own signals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core import hardware
from app.core.context_rules import default_context
from app.core.conversation import Request, fit_documents
from app.core.engine import Engine, LlamaEngine, LoadParams
from app.core.errors import AppError, ModelFileError, OutOfMemory
from app.core.fit import LoadPlan, gb, plan_load, retry_layers
from app.core.gguf_info import ModelLayout, read_layout
from app.core.types import GenParams
from app.core.documents import counting

log = logging.getLogger(__name__)

EngineFactory = Callable[[Path, LoadParams], Engine]
RemoteOpener = Callable[[], Engine]  # opens a model server (network I/O: called on the worker's thread)


@dataclass(frozen=True, slots=True)
class RemoteFacts:
    """What the window shows of a model server in use: where prompts go, what it can do."""

    connection: str  # the saved connection's name
    where: str  # scheme://host:port
    server: str  # "vLLM", "llama.cpp server"...
    model: str
    context_size: int
    context_known: bool = True  # False: the server does not say; the size is assumed
    counts_estimated: bool = False  # token counts are estimates (no tokenizer on the server)
    supports_answer_now: bool = False

    @property
    def key(self) -> str:
        """What documents' stored token counts are keyed by: whose tokenizer counted them."""
        return f"{self.where}#{self.model}"

    @classmethod
    def of(cls, connection: str, engine) -> RemoteFacts:
        return cls(connection, engine.where, engine.info.label, engine.model, engine.context_size,
                   engine.context_known, engine.counts_estimated, engine.supports_answer_now)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    path: str
    context_size: int
    name: str  # what the model bar shows
    template_problem: str | None = None  # why the model's own chat template is not used, for people
    params: LoadParams | None = None  # what the load asked for (layers, context), before the plan resolved it


def fits_alongside(plan: LoadPlan, hw: hardware.Hardware) -> bool:
    """Whether `plan` fits in the memory free now, next to the model already loaded (whose
    GPU runtime is already paid for). Unknown (no layout read) counts as fitting: running
    out of memory then still closes the loaded model and tries again."""
    if plan.layout is None:
        return True
    est = replace(plan, hardware=hw).estimate()  # at the plan's micro-batch and cache precision
    gpu_fits = est.n_gpu_layers == 0 or est.gpu_free - (est.gpu_bytes - est.gpu_overhead) >= 0
    return gpu_fits and est.fits_ram


def llama_factory(path: Path, load: LoadParams) -> Engine:
    return LlamaEngine(path, load)


class GenerationWorker(QObject):
    model_loaded = Signal(object)  # LoadedModel
    # User message, and whether the file itself is at fault (trying again cannot help); the
    # model loaded before (if any) is still loaded...
    model_failed = Signal(str, bool)
    room_made = Signal()  # ...unless this came first: it was closed to make room for the new one
    # `object`, not `list`: see tests/ui/test_signal_refcounts.py.
    events_ready = Signal(int, object)  # request id, list of events
    generation_finished = Signal(int)  # request id
    generation_failed = Signal(int, str)  # request id, user message (before any event)
    prompt_counted = Signal(int, int, int)  # request id, tokens the conversation takes, context size
    documents_counted = Signal(int, object)  # request id, list of token counts (see document_tokens)
    documents_planned = Signal(int, object, object)  # request id, ContextPlan, Request to send (or None)
    load_planned = Signal(object)  # LoadPlan: layout, hardware, resolved layers (before loading)
    retry_suggested = Signal(int)  # after running out of memory: layers the estimate says fit
    load_progress = Signal(int)  # percent of the weights loaded
    remote_opened = Signal(int, object)  # ticket, RemoteFacts: replies now come from that server
    remote_failed = Signal(int, str)  # ticket, why; replies come from the local model again

    def __init__(self, factory: EngineFactory = llama_factory, closing: threading.Event | None = None) -> None:
        super().__init__()
        self._factory = factory
        self._closing = closing or threading.Event()
        self._engine: Engine | None = None  # the local model
        self._remote: Engine | None = None  # a model server; while open, it answers instead
        self._plan: LoadPlan | None = None  # the loaded engine's
        self._layouts: dict[tuple, ModelLayout] = {}

    def _layout(self, path: Path) -> ModelLayout | None:
        """The file's shape, read once per version of the file (a big vocabulary takes seconds)."""
        try:
            st = path.stat()
            key = (str(path), st.st_size, st.st_mtime_ns)
        except OSError:
            key = (str(path),)
        try:
            if key not in self._layouts:
                self._layouts[key] = read_layout(path)
            return self._layouts[key]
        except (OSError, AppError):
            return None  # the load itself reports what is wrong with the file
        except Exception:
            log.exception("could not read the layout of %s", path)
            return None

    @Slot(str, object)
    def load(self, path: str, load: LoadParams) -> None:
        """Load `path`; the model loaded before stays until the new one has loaded, so a
        file that fails leaves the person with the model that worked."""
        layout = self._layout(Path(path))
        n_ctx = default_context(layout.context_length if layout else None, load.n_ctx)
        hw = hardware.detect()
        # Planned as if the loaded model were gone (it goes once this one is in): "Auto"
        # must not choose fewer layers because of a model that is about to be closed.
        kv = load.kv_cache_type
        plan = plan_load(layout, self._without_loaded(hw), n_ctx, load.n_gpu_layers, kv)
        if self._engine is not None and not fits_alongside(plan, hw):
            # Both cannot be in memory at once, so the loaded model is closed first and the
            # free memory read again without it. If the new one then fails, the session
            # loads the old one again (it keeps its path and settings for that).
            self._make_room()
            plan = plan_load(layout, hardware.detect(), n_ctx, load.n_gpu_layers, kv)
        self.load_planned.emit(plan)
        while True:
            try:
                self._percent = -1
                engine = self._factory(Path(path), replace(load, n_gpu_layers=plan.n_gpu_layers, n_batch=plan.n_batch,
                                                           kv_cache_type=plan.kv_cache_type, progress=self._loading))
                break
            except OutOfMemory as exc:
                if self._engine is not None and not self._closing.is_set():
                    # The estimate said both fit and llama.cpp disagreed: make room, try once more.
                    log.info("out of memory next to the loaded model; closing it and trying again")
                    self._make_room()
                    plan = plan_load(layout, hardware.detect(), n_ctx, load.n_gpu_layers, kv)
                    self.load_planned.emit(plan)
                    continue
                retry = retry_layers(plan, plan.n_gpu_layers)
                if retry is not None:  # before the failure, so the session can offer it with the message
                    self.retry_suggested.emit(retry)
                self.model_failed.emit(self._oom_message(exc, plan), False)
                return
            except AppError as exc:
                self.model_failed.emit(exc.user_message, isinstance(exc, ModelFileError))
                return
            except Exception as exc:  # never let a load failure kill the worker thread
                log.exception("model load failed")
                self.model_failed.emit(f"The model could not be loaded: {exc}", False)
                return
        previous, self._engine, self._plan = self._engine, engine, plan
        if previous is not None:
            previous.close()
        self.model_loaded.emit(LoadedModel(path, engine.context_size, engine.name or Path(path).name,
                                           engine.template_problem, load))

    def _without_loaded(self, hw: hardware.Hardware) -> hardware.Hardware:
        """`hw` with the loaded model's GPU share counted as free (its estimate; the GPU
        runtime itself stays, so its fixed cost is not)."""
        est = self._plan.estimate() if self._engine is not None and self._plan is not None else None
        if est is None or not hw.gpus or est.n_gpu_layers == 0:
            return hw
        first = hw.gpus[0]
        freed = max(0, est.gpu_bytes - est.gpu_overhead)
        grown = replace(first, free_bytes=min(first.total_bytes, first.free_bytes + freed))
        return replace(hw, devices=tuple(grown if d is first else d for d in hw.devices))

    def _make_room(self) -> None:
        self._close_local()
        self.room_made.emit()

    def _loading(self, fraction: float) -> bool:
        if self._closing.is_set():
            return False  # the window is closing: stop the load (llama.cpp frees what it read)
        percent = int(fraction * 100)
        if percent != self._percent:  # llama.cpp calls this per tensor: thousands of times
            self._percent = percent
            self.load_progress.emit(percent)
        return True

    @staticmethod
    def _oom_message(exc: OutOfMemory, plan) -> str:
        est = plan.estimate()
        if est is None or plan.n_gpu_layers == 0:
            return exc.user_message
        gpu = plan.hardware.gpus[0].description if plan.hardware.gpus else "the GPU"
        return (f"{exc.user_message} {est.n_gpu_layers} of {est.layer_count} layers at a "
                f"{plan.n_ctx:,}-token context need about {gb(est.gpu_bytes)} on {gpu}, which had "
                f"{gb(est.gpu_free)} free (weights {gb(est.gpu_weights)}, context cache {gb(est.gpu_kv)}).")

    @Slot(int, str, object)
    def open_remote(self, ticket: int, name: str, opener: RemoteOpener) -> None:
        """Open a model server (probing it takes a few round trips, bounded by timeouts);
        from then on it answers, and the local model stays loaded for when it is chosen
        again. A failure closes any server open before: the local model answers."""
        if self._closing.is_set():
            return
        try:
            engine = opener()
        except AppError as exc:
            self.use_local()
            self.remote_failed.emit(ticket, exc.user_message)
            return
        except Exception as exc:  # never let a failed connection kill the worker thread
            log.exception("opening a model server failed")
            self.use_local()
            self.remote_failed.emit(ticket, f"The server could not be used: {exc}")
            return
        self.use_local()
        self._remote = engine
        self.remote_opened.emit(ticket, RemoteFacts.of(name, engine))

    @Slot()
    def use_local(self) -> None:
        """The local model answers again; the server's connection is closed."""
        if self._remote is not None:
            remote, self._remote = self._remote, None
            remote.close()

    def _active(self) -> Engine | None:
        return self._remote if self._remote is not None else self._engine

    @Slot(int, object, object, object, object)
    def generate(self, request_id: int, messages: list, params: GenParams,
                 cancel: threading.Event, answer_now: threading.Event) -> None:
        engine = self._active()
        if engine is None:
            self.generation_failed.emit(request_id, "No model is loaded. Choose a model first.")
            return
        try:
            # Each event goes out at once (a queued signal costs microseconds); the
            # controller coalesces them into ~30 Hz view updates. Holding them here
            # instead would strand the last few whenever the model pauses.
            for event in engine.stream(messages, params, cancel, answer_now):
                self.events_ready.emit(request_id, [event])
        except AppError as exc:
            self.generation_failed.emit(request_id, exc.user_message)
            return
        except Exception as exc:
            log.exception("generation failed")
            self.generation_failed.emit(request_id, f"Generation failed: {exc}")
            return
        self.generation_finished.emit(request_id)
        keep = getattr(engine, "keep_state", None)
        if keep is not None and not self._closing.is_set():
            # After the reply is shown as done: the next queued request waits for this save,
            # the person does not. Closing the window saves it anyway (the engine's close).
            try:
                keep()
            except Exception:  # a cache: its failure must never cost the reply
                log.exception("saving the context state failed")

    @Slot(int, object)
    def count(self, request_id: int, messages: list) -> None:
        """Measure a conversation with the loaded model's tokenizer (for the context meter)."""
        engine = self._active()
        if engine is None:
            return
        try:
            self.prompt_counted.emit(request_id, engine.count_prompt_tokens(messages), engine.context_size)
        except Exception:  # a meter reading is never worth an error dialog
            log.exception("token count failed")

    @Slot(int, object)
    def count_documents(self, request_id: int, docs: list) -> None:
        """Whole-text token counts for attachment chips, with the loaded model's tokenizer."""
        engine = self._active()
        if engine is None:
            return
        try:
            self.documents_counted.emit(request_id, counting.count_documents(engine, docs))
        except Exception:  # a chip without a count is better than an error
            log.exception("document token count failed")

    @Slot(int, object, object, object)
    def plan_documents(self, request_id: int, request: Request, docs: list, known: dict) -> None:
        """Fit documents into the context for a question about to be sent."""
        e = self._active()
        if e is None:
            self.documents_planned.emit(request_id, None, None)
            return
        try:
            plan, fitted = fit_documents(request, docs, e.count_prompt_tokens, e.count_tokens, e.context_size, known)
        except Exception:
            log.exception("planning documents failed")
            plan, fitted = None, None
        self.documents_planned.emit(request_id, plan, fitted)

    @Slot(object)
    def run_task(self, task) -> None:
        """Run `task(engine)` here, in turn with the window's own replies and loads: the
        local server's requests (app/ui/serve/window_runner.py). `engine` is the local
        model, or None when none is loaded."""
        try:
            task(self._engine)
        except Exception:  # never let a request kill the worker thread
            log.exception("a request on the model's thread failed")

    @Slot()
    def close(self) -> None:
        self.use_local()
        self._close_local()

    def _close_local(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = self._plan = None
