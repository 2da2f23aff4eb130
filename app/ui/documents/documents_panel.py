"""Documents in the window: drops and the attach button, chips, the context meter's
share of them, fitting them into the context on send, and what a sent turn used.

It sits between the window and the controller and keeps all of this out of both:
the window creates it and routes "send" through it when files are attached.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal

from app.core.documents import reply_reserve
from app.core.documents.persist import load_attachments, save_attachments, stored_token_counts
from app.ui.documents.attachments import Attachment, ChipRow, DocumentTextDialog
from app.ui.documents.budget_text import WRAP_TOKENS, larger_context
from app.ui.dialogs import Dialogs
from app.ui.documents.document_worker import DocumentReader
from app.ui.documents.sources_view import SourcesView, sources_for

log = logging.getLogger(__name__)
_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove)


def local_files(mime) -> list[str]:
    """Local file paths in a drag's data (links to web pages are not files)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class DocumentsPanel(QObject):
    pending_changed = Signal()  # chips added, removed or changed state
    _count_requested = Signal(int, object)
    _plan_requested = Signal(int, object, object, int, object)

    def __init__(self, window, controller) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.store = controller.store
        self.tray = window.attachment_tray
        self.pending: list[Attachment] = []
        self.reader = DocumentReader(self.store.db_path, self)
        self.reader.progressed.connect(self._progressed)
        self.reader.extracted.connect(self._extracted)
        self.tray.attach_button.clicked.connect(self.choose_files)
        self.tray.row.removed.connect(self.remove)
        self.tray.row.opened.connect(self.show_text)
        self._next_request = 0
        self._counting: dict[int, list[Attachment]] = {}
        self._planning: tuple | None = None  # request id, text, thread id, last message id
        self._resend: str | None = None  # sent again once the model has reloaded with more context
        self._measured: tuple[int, int, int] | None = None
        self._saved: dict[int, list] = {}  # message id -> stored (Document, plan) pairs: they never change
        # The generation worker counts tokens (document_tokens says why); queued signals
        # keep its one-owner rule.
        worker = controller._worker
        self._count_requested.connect(worker.count_documents)
        worker.documents_counted.connect(self._counted)
        self._plan_requested.connect(worker.plan_documents)
        worker.documents_planned.connect(self._planned)
        # Connected after the window's own slots, so these run after them (Qt keeps order).
        controller.context_measured.connect(self._context_measured)
        controller.conversation_changed.connect(self.decorate)
        controller.model_changed.connect(self._model_changed)
        for target in (window, window.chat.viewport(), window.composer.viewport()):
            target.setAcceptDrops(True)
            target.installEventFilter(self)

    # -- adding files ----------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind in _DRAG_EVENTS and local_files(event.mimeData()):
            event.acceptProposedAction()
            return True
        if kind == QEvent.Type.Drop:
            paths = local_files(event.mimeData())
            if paths:
                event.acceptProposedAction()
                self.add_paths(paths)
                return True
        return False

    def choose_files(self) -> None:
        paths = Dialogs.open_documents(self.window)
        if paths:
            self.add_paths(paths)

    def add_paths(self, paths: list[str]) -> None:
        """Start reading each file (a model file goes to the model import instead)."""
        for path in paths:
            if path.lower().endswith(".gguf"):
                self._model_file(path)
                continue
            if any(a.path == path for a in self.pending):
                self.controller.notice.emit(f"{Path(path).name} is already attached.")
                continue
            attachment = Attachment(Path(path).name, path)
            self.pending.append(attachment)
            self.tray.row.add(attachment)
            attachment.job_id = self.reader.read(path)
        self._changed()

    def _model_file(self, path: str) -> None:
        importer = getattr(self.window, "import_model", None)
        if callable(importer):
            importer(path)
        else:
            self.controller.notice.emit(f"{Path(path).name} is a model, not a document: open it with "
                                        f"Open model…, where models are added.")

    def remove(self, attachment: Attachment) -> None:
        """The chip's ×: stop reading it if it is being read, and drop it."""
        if attachment.state == "reading":
            self.reader.cancel(attachment.job_id)
        if attachment in self.pending:
            self.pending.remove(attachment)
        self.tray.row.remove(attachment)
        self._changed()

    def clear(self) -> None:
        for attachment in list(self.pending):
            self.remove(attachment)

    # -- reading and counting --------------------------------------------------------

    def _find(self, job_id: int) -> Attachment | None:
        return next((a for a in self.pending if a.job_id == job_id), None)

    def _progressed(self, job_id: int, done: int, total: int, unit: str) -> None:
        attachment = self._find(job_id)
        if attachment is not None:
            attachment.done, attachment.total, attachment.unit = done, total, unit
            self._refresh(attachment)

    def _extracted(self, job_id: int, doc) -> None:
        attachment = self._find(job_id)
        if attachment is None:  # removed while it was read
            return
        attachment.doc = doc
        attachment.state = "ready" if doc.ok else "failed"
        if doc.ok:
            attachment.tokens = self._stored_tokens(doc)
            if attachment.tokens is None:
                self._count([attachment])
        self._refresh(attachment)
        self._changed()

    def _stored_tokens(self, doc) -> int | None:
        key = self.controller.model_path
        if not key or not self.controller.model_ready:
            return None
        try:
            return stored_token_counts(self.store, [doc], key).get(doc.sha256)
        except Exception:
            log.exception("stored token count lookup failed")
            return None

    def _count(self, attachments: list[Attachment]) -> None:
        if not attachments or not self.controller.model_ready:
            return
        self._next_request += 1
        self._counting[self._next_request] = attachments
        self._count_requested.emit(self._next_request, [a.doc for a in attachments])

    def _counted(self, request_id: int, counts: list) -> None:
        for attachment, tokens in zip(self._counting.pop(request_id, []), counts):
            if attachment in self.pending:
                attachment.tokens = tokens
                self._refresh(attachment)
        self._changed()

    def _model_changed(self, state: str, _text: str) -> None:
        if state == "ready":
            for a in self.pending:  # another model, another tokenizer
                a.tokens = None
                self._refresh(a)
            self._count([a for a in self.pending if a.state == "ready"])
            if self._resend is not None:
                text, self._resend = self._resend, None
                self.send(text)
        elif state == "failed" and self._resend is not None:
            self._resend = None

    def _refresh(self, attachment: Attachment) -> None:
        chip = self.tray.row.chip_for(attachment)
        if chip is not None:
            chip.refresh()

    def _changed(self) -> None:
        self._update_meter()
        self.pending_changed.emit()

    # -- the context meter ------------------------------------------------------------

    def _context_measured(self, tokens: int, reserve: int, size: int) -> None:
        self._measured = (tokens, reserve, size)
        self._update_meter()

    def pending_tokens(self) -> int:
        return sum(a.tokens + WRAP_TOKENS for a in self.pending if a.state == "ready" and a.tokens)

    def _update_meter(self) -> None:
        if self._measured is None:
            return
        tokens, reserve, size = self._measured
        ready = [a for a in self.pending if a.state == "ready"]
        if not ready:
            self.window.show_context(tokens, reserve, size)
            return
        # With documents the reply keeps a quarter of the context (as the budget does).
        docs = self.pending_tokens()
        reserve = reply_reserve(self.controller.settings.gen_params(), size)
        self.window.show_context(tokens + docs, reserve, size)
        counting = any(a.tokens is None for a in ready)
        self.window.context_meter.setToolTip(
            f"The conversation takes {tokens:,} tokens and the attached documents about {docs:,}"
            f"{' (still counting)' if counting else ''}; {reserve:,} are kept free for the reply; the "
            f"context holds {size:,}. If they do not fit, Ponder asks before sending."
        )

    # -- sending ----------------------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        return bool(self.pending)

    def send(self, text: str) -> bool:
        """Send `text` with the attached documents. True when the documents handled it
        (sent, or why not said); False when nothing is attached (a plain send)."""
        if not self.pending:
            return False
        c = self.controller
        text = text.strip()
        if self._planning is not None or c.busy:
            return True
        if not text:
            c.notice.emit("Write a question about the attached documents, then send.")
            return True
        if not c.model_ready:
            c.notice.emit("No model is loaded yet. Open a model file (Model → Open) and send again.")
            return True
        reading = [a.name for a in self.pending if a.state == "reading"]
        if reading:
            c.notice.emit(f"Still reading {', '.join(reading)}; send when the chip says it is ready, or remove it.")
            return True
        docs = [a.doc for a in self.pending]
        known = {a.doc.sha256: a.tokens for a in self.pending if a.state == "ready" and a.tokens}
        reserve = reply_reserve(c.settings.gen_params(**c.param_overrides), c.context_size)
        path = self.store.path(c.thread_id) if c.thread_id else []
        self._next_request += 1
        self._planning = (self._next_request, text, c.thread_id, path[-1].id if path else None)
        c.notice.emit("Fitting the documents into the context…")
        self._plan_requested.emit(self._next_request, c.prompt_for(text), docs, reserve, known)
        return True

    def _planned(self, request_id: int, plan, final) -> None:
        if self._planning is None or self._planning[0] != request_id:
            return
        _, text, thread_id, last_id = self._planning
        self._planning = None
        c = self.controller
        path = self.store.path(c.thread_id) if c.thread_id else []
        if plan is None:
            c.notice.emit("The documents could not be fitted: no model is ready. Nothing was sent.")
            return
        if c.busy or c.thread_id != thread_id or (path[-1].id if path else None) != last_id:
            c.notice.emit("The conversation changed while the documents were fitted; send again.")
            return
        c.notice.emit("")  # "Fitting the documents…" is over
        if plan.decision in ("whole", "none"):
            self._commit(text, plan, final)
            return
        layout = c.load_plan.layout if getattr(c, "load_plan", None) is not None else None
        layers = c.load_plan.n_gpu_layers if layout is not None else 0
        larger = larger_context(plan, c.settings.gen_params().max_tokens, layout, layers)
        choice = Dialogs.documents_dont_fit(self.window, plan, larger)
        if choice == "passages" and plan.decision == "passages":
            self._commit(text, plan, final)
        elif choice == "context" and larger is not None:
            self._resend = text
            c.notice.emit(f"Reloading the model with a {larger[0]:,}-token context; the question goes "
                          f"when it is ready.")
            c.apply_settings(c.settings.with_changes(context_size=larger[0]))
        else:
            c.notice.emit("Not sent. Remove files with the × on their chips, or send again.")

    def _commit(self, text: str, plan, final) -> None:
        docs = [a.doc for a in self.pending]
        model_key = self.controller.model_path

        def attach(message_id: int) -> None:
            try:
                save_attachments(self.store, message_id, docs, plan, model_key)
            except Exception:  # the question still goes; the chips just won't be kept
                log.exception("saving attachments failed")
                self.controller.notice.emit("The documents could not be saved with the thread.")

        if self.controller.send(text, final, attach):
            self.window.composer.clear()
            self.clear()

    # -- sent turns: chips and sources ------------------------------------------------

    def _stored(self, message_id: int) -> list:
        if message_id not in self._saved:
            try:
                self._saved[message_id] = load_attachments(self.store, message_id)
            except Exception:
                log.exception("loading attachments failed")
                return []
        return self._saved[message_id]

    def decorate(self, messages) -> None:
        """Chips on user messages that had documents; Sources under replies that used passages."""
        for m in messages:
            widget = self.window.chat.widgets.get(m.id)
            if widget is None or getattr(widget, "documents_shown", False):
                continue
            widget.documents_shown = True
            if m.role == "user":
                pairs = self._stored(m.id)
                if pairs:
                    row = ChipRow()
                    for doc, plan in pairs:
                        row.add(Attachment.from_document(doc, plan.mode if plan else "", plan.tokens if plan else None))
                    row.opened.connect(self.show_text)
                    widget.chips = row
                    widget.layout().addWidget(row)
            elif m.parent_id is not None:
                used = sources_for(self._stored(m.parent_id))
                if used:
                    view = SourcesView(used)
                    view.passage_opened.connect(self.show_passage)
                    widget.sources = view
                    widget.layout().addWidget(view)

    def show_text(self, attachment: Attachment) -> None:
        DocumentTextDialog(attachment, self.window).exec()

    def show_passage(self, doc, start: int, end: int) -> None:
        DocumentTextDialog(Attachment.from_document(doc), self.window, (start, end)).exec()

    def shutdown(self) -> None:
        self.reader.shutdown()
