"""The main window: thread list, model bar, conversation, composer. Wiring only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.stats_text import rate_line, totals_line
from app.ui.chat.chat_session import NO_MODEL, ChatSession, ContextReading
from app.ui.chat.chat_view import ChatView
from app.ui.chat.composer import Composer
from app.ui.chat.composer_area import ComposerArea
from app.ui.chat.context_meter import ContextMeter
from app.ui.chat.thinking_picker import ThinkingPicker
from app.ui.chat.thread_sidebar import ThreadSidebar
from app.ui.dialogs import Dialogs
from app.ui.documents.attachments import AttachmentTray
from app.ui.documents.documents_panel import DocumentsPanel
from app.ui.models.elided_label import ElidedLabel
from app.ui.models.model_bar import ModelBar
from app.ui.notice_banner import NoticeBanner, notice_ms
from app.ui.settings.theme import ThemeWatcher
from app.ui.settings.thread_settings_dialog import ThreadSettingsDialog
from app.ui.shortcuts import WindowKeys
from app.ui.window_menus import WindowMenus

ANSWER_NOW_TIP = "Stop thinking and write the answer from what it has so far"
REPEAT_KEY = "repeating"
REPEAT_TEXT = "The model seems to be repeating itself."
UNDO_BUTTON_MS = 10_000  # "Undo delete" stays a little longer than the notice beside it


RESTORED_TIP = ("Restored: the conversation so far was loaded from its saved state on disk instead of being "
                "read again; only what is new was read. Settings > Memory and disk > Saved conversations.")


class MainWindow(QMainWindow):
    """`session` is the chat (threads, replies); its `models` the model session and its
    `settings` the person's settings. `manager` is the models' manager (downloads)."""

    def __init__(self, session: ChatSession | None = None, dark: bool = False, manager=None,
                 connections=None) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1200, 760)
        self.session = session
        self.settings = session.settings if session is not None else None
        self._build(dark)
        self.models = None  # ModelsFront: downloads, import, the check before a model loads
        self.documents: DocumentsPanel | None = None  # attachments: chips, reading, fitting on send
        self.server = None  # ServeController: the local server for other apps (Settings > Local server)
        self.engines = None  # EnginesFront: this computer or a model server, per thread
        if session is not None:
            self._wire(session)
            self.documents = DocumentsPanel(self, session)
            self.documents.model_file_dropped.connect(self.import_model)
            from app.ui.models.models_front import ModelsFront

            self.models = ModelsFront(self, session.models, session.settings, manager)
            self._wire_server(session)
            from app.ui.models.engines_front import EnginesFront

            if connections is None:
                from app import paths
                from app.core.remote.connections import Connections

                connections = Connections(paths.config_dir())
            self.engines = EnginesFront(self, session, connections)
            self.setAcceptDrops(True)  # a .gguf dropped anywhere on the window is imported

    # -- building ----------------------------------------------------------------------

    def _build(self, dark: bool) -> None:
        self.sidebar = left = ThreadSidebar()
        self.search, self.new_button, self.thread_list = left.search, left.new_button, left.list

        self.context_meter = ContextMeter()  # "3.2k of 16k tokens" and a slim bar; the breakdown in its tooltip
        # Two rows: what is loaded and the ways to change it; then where its layers run and
        # how full its context is. Each part gives up width before the window has to grow.
        self.model_bar = ModelBar(self.context_meter)
        self.model_label, self.offload = self.model_bar.name_label, self.model_bar.offload
        self.open_model_button, self.models_button = self.model_bar.open_button, self.model_bar.models_button

        settings = self.settings.value if self.settings else None
        self.chat = ChatView(settings.layout if settings else "auto", settings.thinking_expanded if settings else False, dark)
        # Light, dark or the system's: applied when chosen in Settings, or when the system switches.
        self.theme = ThemeWatcher(settings.theme if settings else "system", dark, self)
        self.theme.dark_changed.connect(self.chat.set_dark)
        self.composer = Composer()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setEnabled(False)  # until a model is ready (_update_send)
        self.send_button.setToolTip("Load a model first")
        self.answer_now_button = QPushButton("Answer now")
        self.answer_now_button.setObjectName("secondaryButton")  # beside Send, the one primary action
        self.answer_now_button.setToolTip(ANSWER_NOW_TIP)
        self.answer_now_button.setEnabled(False)
        self.answer_now_button.hide()  # shown while a reply streams (_busy)
        self.attachment_tray = AttachmentTray()
        self.thinking_picker = ThinkingPicker()
        composer_area = ComposerArea(self.attachment_tray, self.composer,
                                     [self.thinking_picker, self.answer_now_button, self.send_button])

        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(6, 6, 6, 6)
        center_layout.addWidget(self.model_bar)
        self.banner = NoticeBanner()  # what went wrong here and what to do (app/ui/models/load_notices.py)
        center_layout.addWidget(self.banner)
        center_layout.addWidget(self.chat, 1)
        center_layout.addWidget(composer_area)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(center)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 940])
        self.setCentralWidget(splitter)

        # The speed readout is permanent, at the right: passing notices never cover it. Short of
        # room (a narrow window, a restored prompt's words in front) it ends in "…", whole in its tooltip.
        self.stats_label = ElidedLabel("", min_chars=24)
        self.stats_label.setObjectName("statsLabel")
        self.stats_label.setContentsMargins(8, 0, 8, 0)
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.hide()
        self.statusBar().addPermanentWidget(self.undo_button)
        # The button goes with its notice (a little later); Ctrl+Z still undoes until the app quits.
        self._undo_timer = QTimer(self, singleShot=True, interval=UNDO_BUTTON_MS)
        self._undo_timer.timeout.connect(self.undo_button.hide)
        self.statusBar().addPermanentWidget(self.stats_label)
        self._deleted_thread: int | None = None

        self.keys = WindowKeys(self)
        self.menus = WindowMenus(self)
        self.new_action, self.undo_delete_action = self.menus.new_thread, self.menus.undo_delete
        self.stop_action, self.sidebar_action = self.menus.stop, self.menus.sidebar
        self.composer.edit_last_requested.connect(self.keys.edit_last_question)
        if self.session is not None:
            self.session.busy_changed.connect(self.stop_action.setEnabled)

    def _wire(self, c: ChatSession) -> None:
        m = c.models
        self.sidebar.attach(c)
        self.sidebar.new_requested.connect(self.new_thread)
        self.sidebar.settings_requested.connect(self.edit_thread_settings)
        self.sidebar.deleted.connect(self._thread_deleted)
        self.open_model_button.clicked.connect(self.open_model_file)
        self.models_button.clicked.connect(self.open_models)
        self.composer.submitted.connect(self._send)
        self.composer.cancel_requested.connect(c.stop)
        self.send_button.clicked.connect(self._send_or_stop)
        self.answer_now_button.clicked.connect(c.answer_now)
        self.undo_button.clicked.connect(self.undo_delete)
        self.chat.regenerate_requested.connect(lambda message_id: self._may_send() and c.regenerate(message_id))
        self.chat.edit_requested.connect(self._edit)
        self.chat.edit_submitted.connect(self._edit_submitted)
        self.chat.example_chosen.connect(self._example)
        self.chat.thinking_changed.connect(lambda _thinking: self.update_answer_now())
        self.chat.delete_requested.connect(c.delete_message)
        self.chat.branch_requested.connect(c.switch_branch)
        self.chat.reasoning_toggled.connect(c.set_reasoning_expanded)
        c.conversation_changed.connect(self._show_conversation)
        c.stream_updated.connect(self.chat.apply_events)
        c.message_finished.connect(self.chat.finish)
        c.busy_changed.connect(self._busy)
        m.model_changed.connect(self._model_changed)
        m.load_planned.connect(self.offload.set_plan)
        self.offload.layers_chosen.connect(m.set_gpu_layers)
        c.notice.connect(self.show_notice)
        m.notice.connect(self.show_notice)
        c.stats_updated.connect(self._stats)
        c.rate_updated.connect(self._rate)
        self.thinking_picker.choice_changed.connect(c.set_thinking_choice)
        c.repeating.connect(self._repeating)
        c.busy_changed.connect(lambda busy: busy or self.banner.clear(REPEAT_KEY))
        # The meter counts the unsent text too, re-measured once typing pauses.
        self._draft_timer = QTimer(self, singleShot=True, interval=400)
        self._draft_timer.timeout.connect(lambda: c.set_draft(self.composer.toPlainText()))
        self.composer.textChanged.connect(self._draft_timer.start)
        c.context_measured.connect(self.show_context)

    def _wire_server(self, c: ChatSession) -> None:
        from app.ui.serve.serve_controller import ServeController
        from app.ui.serve.server_indicator import ServerIndicator

        self.server = ServeController(c.models, c.settings, self)
        self.server_indicator = ServerIndicator(self.statusBar())  # "Server on :8765" while other apps may use the model
        self.statusBar().insertPermanentWidget(0, self.server_indicator)
        self.server.state_changed.connect(self.server_indicator.show_state)
        self.server_indicator.clicked.connect(lambda: self.open_settings("server"))

    def show_notice(self, text: str) -> None:
        """A passing message in the status bar; "no model" instead gets the banner with the
        buttons that load one."""
        if text == NO_MODEL and self.models is not None:
            self.models.model_needed()
        else:
            self.statusBar().showMessage(text, notice_ms(text))

    # -- threads -------------------------------------------------------------------------

    def new_thread(self) -> None:
        if not self.session.busy:
            self.session.new_thread()
            self.composer.setFocus()

    def edit_thread_settings(self, thread_id: int | None) -> None:
        """This thread's own system prompt and sampling values."""
        thread = self.session.thread(thread_id)
        if thread is None:
            self.show_notice("Open or start a thread first.")
            return
        dialog = ThreadSettingsDialog(thread, self.settings.value, self)
        if Dialogs.run(dialog):
            self.session.set_thread_settings(thread_id, dialog.system_prompt(), dialog.overrides())

    def delete_thread(self, thread_id: int) -> None:
        self.sidebar.delete(thread_id)

    def _thread_deleted(self, thread_id: int) -> None:
        self._deleted_thread = thread_id
        self.undo_button.show()
        self._undo_timer.start()
        self.show_notice("Thread deleted.")

    def undo_delete(self) -> None:
        if self._deleted_thread is not None:
            self.session.restore_thread(self._deleted_thread)
            self.session.select_thread(self._deleted_thread)
            self._deleted_thread = None
        self.undo_button.hide()

    def open_settings(self, page: str | None = None) -> None:
        from app.ui.settings.settings_dialog import SettingsDialog

        states = self.session.models.states if self.session is not None else None
        dialog = SettingsDialog(self.settings.value, self, server=self.server, page=page, states=states)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def show_about(self) -> None:
        from app.ui.about_dialog import AboutDialog

        AboutDialog(self).exec()

    def apply_settings(self, settings) -> None:
        theme_changed = settings.theme != self.settings.value.theme
        self.settings.apply(settings)
        if theme_changed:
            self.theme.set_choice(settings.theme)
        self.chat.thinking_expanded = settings.thinking_expanded
        self.chat.set_layout_mode(settings.layout)

    def export_thread(self) -> None:
        exported = self.session.export_markdown(self.session.thread_id) if self.session.thread_id else None
        if exported is None:
            return
        title, text = exported
        path = Dialogs.save_markdown(self, f"{title}.md")
        if path:
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as exc:
                Dialogs.error(self, f"Could not write {path}: {exc.strerror or exc}")

    # -- conversation ----------------------------------------------------------------------

    def _show_conversation(self, messages, siblings) -> None:
        self.chat.set_messages(messages, siblings)
        self.sidebar.select_current()
        if self.documents is not None:
            self.documents.decorate(messages)

    def _may_send(self) -> bool:
        """False when the person declined sending to a server on another computer."""
        return self.engines is None or self.engines.may_send()

    def _send(self, text: str) -> None:
        if text.strip() and not self._may_send():
            return
        if self.documents is not None and self.documents.send(text):
            return  # files are attached: the documents panel sends once they fit
        if self.session.send(text):
            self.composer.clear()

    def _send_or_stop(self) -> None:
        if self.session.busy:
            self.session.stop()
        else:
            self._send(self.composer.toPlainText())

    def _edit(self, message_id: int) -> None:
        self.chat.begin_edit(message_id)  # the bubble becomes an editor (Save & send, Cancel)

    def _edit_submitted(self, message_id: int, text: str) -> None:
        """Ask the edited question as a new version beside the old one; the editor stays
        open (with the text) when it cannot be sent now."""
        if self.session.busy:
            self.show_notice("A reply is still being written: stop it (Esc) or wait, then send the edited question.")
        elif not self.session.models.model_ready:
            self.show_notice(NO_MODEL)
        elif self._may_send():
            self.session.edit_and_resend(message_id, text)

    def _example(self, question: str) -> None:
        """An example question from the empty thread's greeting goes into the message box."""
        self.composer.setPlainText(question)
        self.composer.moveCursor(self.composer.textCursor().MoveOperation.End)
        self.composer.setFocus()

    def _busy(self, busy: bool) -> None:
        self.offload.set_busy(busy)
        self.send_button.setText("Stop" if busy else "Send")
        self.answer_now_button.setVisible(busy)
        self.update_answer_now()
        self.new_button.setEnabled(not busy)
        self._update_send()

    def _repeating(self, event) -> None:
        """The thinking goes in circles: offer to answer now, or to let it think on."""
        if event.answering:
            self.banner.show_notice(f"{REPEAT_TEXT} It was again, so it is answering now.", kind="info",
                                    key=REPEAT_KEY)
            return
        self.banner.show_notice(REPEAT_TEXT, [("Answer now", self.session.answer_now), ("Keep thinking", lambda: None)],
                                kind="info", key=REPEAT_KEY)

    def update_answer_now(self) -> None:
        """Answer now works while the reply thinks, on an engine that can end thinking early."""
        problem = self.engines.answer_now_problem() if self.engines is not None else None
        self.answer_now_button.setEnabled(self.session.busy and self.chat.thinking_now and problem is None)
        self.answer_now_button.setToolTip(problem or ANSWER_NOW_TIP)

    def _model_changed(self, state: str, text: str) -> None:
        self.model_label.setText({"loading": text, "ready": f"Model: {text}", "failed": "No model loaded"}.get(state, text))
        self.offload.set_busy(state == "loading" or self.session.busy)
        if state == "failed":
            self.offload.forget_unless_adjustable()  # nothing loaded: no "CPU only" for a model not there
        self._update_send()

    def _update_send(self) -> None:
        """Send needs a model that is ready; Stop (the same button while a reply streams) never waits."""
        models = self.session.models
        ready = self.session.busy or models.model_ready
        self.send_button.setEnabled(ready)
        self.send_button.setToolTip("" if ready else "Wait until the server answers" if models.connecting
                                    else "Wait until the model has loaded" if models.loading
                                    else "Load a model first")

    def open_model_file(self) -> None:
        path = Dialogs.open_model(self, self.settings.value.models_dir)
        if path:
            self.choose_model(path)
    # -- models (app/ui/models/models_front.py) -----------------------------------------------------

    def open_models(self):
        return self.models.open_dialog() if self.models else None

    def choose_model(self, path: str | Path) -> None:
        """Load `path` through the check a download gets before its first use."""
        self.models.choose_model(path)

    def import_model(self, path: str | Path) -> bool:
        """Validate and add a .gguf, offering to load it; False with the reason shown if unusable."""
        return bool(self.models and self.models.import_model(path))

    def show_first_run(self) -> None:
        self.models.show_first_run()

    def show_in_place_of_chat(self, panel: QWidget | None) -> None:
        """Show `panel` where the conversation is (the first-run offer), or the conversation again."""
        layout = self.chat.parentWidget().layout()
        if panel is not None and layout.indexOf(panel) < 0:
            layout.insertWidget(layout.indexOf(self.chat), panel, 1)
        if panel is not None:
            self.chat.hide()
            panel.show()
        else:
            for i in range(layout.count()):
                w = layout.itemAt(i).widget()
                if w is not None and w is not self.chat and w.property("replacesChat"):
                    w.hide()
            self.chat.show()

    def dragEnterEvent(self, event) -> None:
        from app.ui.models.models_front import gguf_paths

        if self.models and gguf_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        from app.ui.models.models_front import gguf_paths

        paths = gguf_paths(event.mimeData()) if self.models else []
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        for path in paths:
            self.import_model(path)

    def _rate(self, rate) -> None:
        self.stats_label.setText(rate_line(rate))

    def _stats(self, stats) -> None:
        self.stats_label.setText(totals_line(stats))
        self.stats_label.setToolTip(RESTORED_TIP if stats.restored_prompt_tokens else "")

    def show_context(self, reading: ContextReading) -> None:
        """System prompt + history (+ attached documents), plus what is kept free for the
        next reply, against the context. The meter's only writer."""
        self.context_meter.show_reading(reading)  # red past the context: a send would be refused

    def closeEvent(self, event) -> None:
        if hasattr(self, "_draft_timer"):
            self._draft_timer.stop()  # it would measure a thread after the store has closed
        self.chat.shutdown()
        if self.documents is not None:
            self.documents.shutdown()
        if self.server is not None:
            self.server.shutdown()  # first: its request on the model's thread is cut before that thread ends
        if self.session is not None:
            self.session.shutdown()
        if self.models is not None:
            self.models.shutdown()
        super().closeEvent(event)
