"""Documents in the window: drops and the attach button, chips, the context meter's
share of them, fitting them into the context on send, and what a sent turn used.

It sits between the window and the chat session and keeps all of this out of both:
the window creates it and routes "send" through it when files are attached. It
reaches the model only through the model session's public requests, and the
history only through the chat session.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal

from app.core.conversation import Attached
from app.ui.documents.attachments import Attachment, ChipRow, DocumentTextDialog
from app.ui.documents.budget_text import WRAP_TOKENS, larger_context
from app.ui.chat.chat_session import NO_MODEL
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
    model_file_dropped = Signal(str)  # a .gguf among the files: it goes to the model import

    def __init__(self, window, session) -> None:
        super().__init__(window)
        self.window = window
        self.session = session  # ChatSession
        self.models = session.models  # ModelSession
        self.tray = window.attachment_tray
        self.pending: list[Attachment] = []
        self.reader = DocumentReader(session.history_path, self)
        self.reader.progressed.connect(self._progressed)
        self.reader.extracted.connect(self._extracted)
        self.tray.attach_button.clicked.connect(self.choose_files)
        self.tray.row.removed.connect(self.remove)
        self.tray.row.opened.connect(self.show_text)
        self._counting: dict[int, list[Attachment]] = {}
        self._planning: tuple | None = None  # request id, text, thread id, last message id
        self._resend: str | None = None  # sent again once the model has reloaded with more context
        self._saved: dict[int, list] = {}  # message id -> stored (Document, plan) pairs: they never change
        # The model's worker counts tokens (app/core/documents/counting.py says why).
        self.models.documents_counted.connect(self._counted)
        self.models.documents_planned.connect(self._planned)
        self.models.model_changed.connect(self._model_changed)
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
                self.model_file_dropped.emit(path)
                continue
            if any(a.path == path for a in self.pending):
                self.session.notice.emit(f"{Path(path).name} is already attached.")
                continue
            attachment = Attachment(Path(path).name, path)
            self.pending.append(attachment)
            self.tray.row.add(attachment)
            attachment.job_id = self.reader.read(path)
        self._changed()

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
        try:
            return self.session.known_token_counts([doc]).get(doc.sha256)
        except Exception:
            log.exception("stored token count lookup failed")
            return None

    def _count(self, attachments: list[Attachment]) -> None:
        if not attachments:
            return
        request_id = self.models.count_documents([a.doc for a in attachments])
        if request_id is not None:
            self._counting[request_id] = attachments

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

    def pending_tokens(self) -> int:
        return sum(a.tokens + WRAP_TOKENS for a in self.pending if a.state == "ready" and a.tokens)

    def _update_meter(self) -> None:
        """Tell the chat session what the attachments will take; the window's meter shows it."""
        counting = any(a.tokens is None for a in self.pending if a.state == "ready")
        self.session.set_pending_documents(self.pending_tokens(), counting)

    # -- sending ----------------------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        return bool(self.pending)

    def send(self, text: str) -> bool:
        """Send `text` with the attached documents. True when the documents handled it
        (sent, or why not said); False when nothing is attached (a plain send)."""
        if not self.pending:
            return False
        c = self.session
        text = text.strip()
        if self._planning is not None or c.busy:
            return True
        if not text:
            c.notice.emit("Write a question about the attached documents, then send.")
            return True
        if not self.models.model_ready:
            c.notice.emit(NO_MODEL)
            return True
        reading = [a.name for a in self.pending if a.state == "reading"]
        if reading:
            c.notice.emit(f"Still reading {', '.join(reading)}; send when the chip says it is ready, or remove it.")
            return True
        docs = [a.doc for a in self.pending]
        known = {a.doc.sha256: a.tokens for a in self.pending if a.state == "ready" and a.tokens}
        request_id = self.models.plan_documents(c.request_for(text), docs, known)
        if request_id is None:
            c.notice.emit(NO_MODEL)
            return True
        self._planning = (request_id, text, c.position())
        c.notice.emit("Fitting the documents into the context…")
        return True

    def _planned(self, request_id: int, plan, fitted) -> None:
        if self._planning is None or self._planning[0] != request_id:
            return
        _, text, position = self._planning
        self._planning = None
        c = self.session
        if plan is None:
            c.notice.emit("The documents could not be fitted into the context (the details are in the log). "
                          "Nothing was sent.")
            return
        if c.busy or c.position() != position:
            c.notice.emit("The conversation changed while the documents were fitted; send again.")
            return
        c.notice.emit("")  # "Fitting the documents…" is over
        if plan.decision in ("whole", "none"):
            self._commit(text, plan, fitted)
            return
        load_plan = self.models.load_plan
        layout = load_plan.layout if load_plan is not None else None
        layers = load_plan.n_gpu_layers if layout is not None else 0
        # A server's context is its own to set: only the local model can be reloaded larger.
        larger = None if self.models.on_server else larger_context(plan, fitted.params.max_tokens, layout, layers)
        choice = Dialogs.documents_dont_fit(self.window, plan, larger)
        if choice == "passages" and plan.decision == "passages":
            self._commit(text, plan, fitted)
        elif choice == "context" and larger is not None:
            self._resend = text
            c.notice.emit(f"Reloading the model with a {larger[0]:,}-token context; the question goes "
                          f"when it is ready.")
            c.settings.update(context_size=larger[0])
        else:
            c.notice.emit("Not sent. Remove files with the × on their chips, or send again.")

    def _commit(self, text: str, plan, fitted) -> None:
        attached = Attached([a.doc for a in self.pending], plan, self.models.engine_key, fitted)
        if self.session.send(text, attached):
            self.window.composer.clear()
            self.clear()

    # -- sent turns: chips and sources ------------------------------------------------

    def _stored(self, message_id: int) -> list:
        if message_id not in self._saved:
            try:
                self._saved[message_id] = self.session.attachments(message_id)
            except Exception:
                log.exception("loading attachments failed")
                return []
        return self._saved[message_id]

    def decorate(self, messages) -> None:
        """Chips on user messages that had documents; Sources under replies that used passages."""
        for m in messages:
            widget = self.window.chat.widgets.get(m.id)
            # Looked at once per widget: a sent question's attachments never change.
            if widget is None or not widget.add_extra("documents-checked", None):
                continue
            if m.role == "user":
                pairs = self._stored(m.id)
                if pairs:
                    row = ChipRow()
                    for doc, plan in pairs:
                        row.add(Attachment.from_document(doc, plan.mode if plan else "", plan.tokens if plan else None))
                    row.opened.connect(self.show_text)
                    widget.add_extra("chips", row)
            elif m.parent_id is not None:
                used = sources_for(self._stored(m.parent_id))
                if used:
                    view = SourcesView(used)
                    view.passage_opened.connect(self.show_passage)
                    widget.add_extra("sources", view)

    def show_text(self, attachment: Attachment) -> None:
        DocumentTextDialog(attachment, self.window).exec()

    def show_passage(self, doc, start: int, end: int) -> None:
        DocumentTextDialog(Attachment.from_document(doc), self.window, (start, end)).exec()

    def shutdown(self) -> None:
        self.reader.shutdown()
