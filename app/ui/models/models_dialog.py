"""The models dialog: the catalog with each file's size and state on disk, the running
download with Pause / Resume / Cancel (a failed one: its error once, Retry / Dismiss /
Delete partial file), and GGUFs already on this computer to add.

It only shows and asks; the ModelManager does the work and outlives the dialog, so
closing it never stops a download.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
    QPushButton, QVBoxLayout, QWidget,
)

from app.core.catalog import CatalogFile
from app.core.local_models import CatalogState
from app.ui.dialogs import Dialogs
from app.ui.models.download_text import failure_text, progress_text, size_text
from app.ui.models.model_manager import ModelManager
from app.ui.plain import html_text, plain_label, tip

ORIGINS = {"imported": "added", "hf-cache": "Hugging Face cache", "lmstudio": "LM Studio",
           "models-folder": "models folder"}


class ModelRow:
    """One catalog model: name, quant picker, size, state, one action button."""

    def __init__(self, grid: QGridLayout, row: int, model, default_quant: str) -> None:
        self.model = model
        self.files = {f.quant: f for f in model.files}
        name = QLabel(f"<b>{html_text(model.name)}</b><br><small>{html_text(model.description)}</small>")
        name.setWordWrap(True)
        self.quant = QComboBox()
        self.quant.addItems(list(self.files))
        if default_quant in self.files:
            self.quant.setCurrentText(default_quant)
        self.size = QLabel()
        self.state = QLabel()
        self.action = QPushButton()
        for col, w in enumerate((name, self.quant, self.size, self.state, self.action)):
            grid.addWidget(w, row, col)

    @property
    def file(self) -> CatalogFile:
        return self.files[self.quant.currentText()]


class ModelsDialog(QDialog):
    model_chosen = Signal(str)  # a downloaded or added file to load
    import_requested = Signal(str)  # a .gguf to validate and add

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 560)
        # One dialog per window, hidden on close and shown again: it keeps following the
        # manager's signals, so there is nothing to disconnect.
        self.manager = manager
        self.focus: CatalogFile | None = manager.active.file if manager.active else None
        self._states: dict[str, CatalogState] = {}
        self._cancelling = False
        self.failure: tuple[str, str, str] | None = None  # file id, message, kind of the last failed download
        layout = QVBoxLayout(self)

        catalog_box = QGroupBox("Phi-4-reasoning models")
        grid = QGridLayout(catalog_box)
        grid.setColumnStretch(0, 1)
        for col, title in enumerate(("Model", "Quantization", "Size", "On this computer", "")):
            grid.addWidget(QLabel(f"<small>{title}</small>"), 0, col)
        self.rows = [ModelRow(grid, i + 1, m, manager.catalog.default_quant) for i, m in enumerate(manager.catalog.models)]
        for row in self.rows:
            row.quant.currentTextChanged.connect(lambda _=None: self.refresh())
            row.action.clicked.connect(lambda _=False, r=row: self._act(r))
        layout.addWidget(catalog_box)

        self.download_box = QGroupBox("Download")
        box = QVBoxLayout(self.download_box)
        self.download_title = plain_label()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress_label = QLabel()
        self.message = plain_label()  # a server's or the disk's words
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel download")
        self.redownload_button = QPushButton("Download again")
        # A failed download: one message, and ways on (the running ones' buttons would be greyed out).
        self.retry_button = QPushButton("Retry")
        self.delete_partial_button = QPushButton("Delete partial file")
        self.delete_partial_button.setToolTip("Remove the part downloaded so far; a new try starts from the beginning.")
        self.dismiss_button = QPushButton("Dismiss")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.redownload_button, self.pause_button, self.resume_button, self.cancel_button,
                  self.delete_partial_button, self.retry_button, self.dismiss_button):
            buttons.addWidget(b)
        for w in (self.download_title, self.progress, self.progress_label, self.message):
            box.addWidget(w)
        box.addLayout(buttons)
        layout.addWidget(self.download_box)

        self.local_box = QGroupBox("Other GGUF files on this computer")
        self.local_grid = QGridLayout(self.local_box)
        self.local_grid.setColumnStretch(0, 1)
        layout.addWidget(self.local_box)
        self.import_button = QPushButton("Import .gguf…")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        where = manager.place.dest_dir
        folder = html_text(str(where)) if where else "the shared Hugging Face cache"
        self.where = QLabel(f"<small>Downloads go to {folder} (change it in Settings)</small>")
        self.where.setToolTip("Choose another folder with Settings > Models folder.")
        bottom = QHBoxLayout()
        bottom.addWidget(self.import_button)
        bottom.addWidget(self.where)
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout.addStretch(1)
        layout.addLayout(bottom)

        close.rejected.connect(self.close)
        self.import_button.clicked.connect(self._import)
        self.pause_button.clicked.connect(manager.pause)
        self.resume_button.clicked.connect(self._resume)
        self.cancel_button.clicked.connect(self._cancel)
        self.redownload_button.clicked.connect(self._resume)
        self.retry_button.clicked.connect(self._resume)
        self.dismiss_button.clicked.connect(self._dismiss)
        self.delete_partial_button.clicked.connect(self._delete_partial)
        manager.states_changed.connect(self.refresh)
        manager.sizes_ready.connect(self.refresh)
        manager.download_started.connect(self._started)
        manager.download_progressed.connect(self._progressed)
        manager.download_stopped.connect(self._stopped)
        manager.download_failed.connect(self._failed)
        manager.download_finished.connect(self._finished)
        self.refresh()
        self._show_download()
        manager.fetch_sizes()

    # -- listing -------------------------------------------------------------------------------

    def refresh(self, *_) -> None:
        self._states = {s.file.id: s for s in self.manager.states()}
        active = self.manager.active
        for row in self.rows:
            f = row.file
            st = self._states.get(f.id)
            exact = self.manager.exact_sizes.get(f.primary.spec)
            if st is not None and st.state != "absent":
                row.size.setText(size_text(st.size))
            else:
                row.size.setText(size_text(exact) if exact else size_text(f.approx_size, approx=True))
            downloading = active is not None and active.file.id == f.id
            state, action = _describe(st, downloading)
            row.state.setText(state)
            row.action.setText(action)
            row.action.setEnabled(not downloading and not (active is not None and action != "Use"))
        self._refresh_local()

    def _refresh_local(self) -> None:
        while self.local_grid.count():
            item = self.local_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        found = self.manager.found()
        if not found:
            self.local_grid.addWidget(QLabel("None found in the Hugging Face cache or LM Studio's folders."), 0, 0)
        for i, m in enumerate(found):
            name = QLabel(f"{html_text(m.path.name)}<br><small>{html_text(str(m.path.parent))}</small>")
            name.setToolTip(tip(str(m.path)))
            self.local_grid.addWidget(name, i, 0)
            self.local_grid.addWidget(QLabel(ORIGINS.get(m.origin, m.origin)), i, 1)
            self.local_grid.addWidget(QLabel(size_text(m.size)), i, 2)
            button = QPushButton("Use" if m.origin == "imported" else "Add")
            path = str(m.path)
            if m.origin == "imported":
                button.clicked.connect(lambda _=False, p=path: self.model_chosen.emit(p))
            else:
                button.clicked.connect(lambda _=False, p=path: self.import_requested.emit(p))
            self.local_grid.addWidget(button, i, 3)

    def row_for(self, model_id: str) -> ModelRow:
        return next(r for r in self.rows if r.model.id == model_id)

    # -- actions -------------------------------------------------------------------------------

    def _act(self, row: ModelRow) -> None:
        st = self._states.get(row.file.id)
        if st is not None and st.usable:
            self.model_chosen.emit(str(st.path))
        else:
            self.download(row.file)

    def download(self, cfile: CatalogFile) -> None:
        self.focus = cfile
        self.failure = None
        self.message.clear()
        self.manager.start_download(cfile)

    def _resume(self) -> None:
        if self.focus is not None:
            self.download(self.focus)

    def _cancel(self) -> None:
        f = self.focus
        if f is None:
            return
        st = self._states.get(f.id)
        active = self.manager.active
        done = active.progress.done if active is not None and active.progress is not None else (st.done if st else 0)
        choice = Dialogs.stop_download(self, size_text(done)) if done > 0 else "keep"
        if choice is None:
            return
        delete = choice == "delete"
        self._cancelling = active is not None  # when it stops, the download box goes too
        self.manager.cancel(f, delete)
        if active is None:  # nothing running: the stop is already done
            self.focus = None
            self._show_download()

    def _dismiss(self) -> None:
        """Put a failed download out of sight; what it kept on disk stays (the row says so)."""
        self.failure = None
        self.focus = None
        self.message.clear()
        self._show_download()

    def _delete_partial(self) -> None:
        if self.focus is not None and self.manager.active is None:
            self.failure = None
            self.manager.cancel(self.focus, delete_partial=True)  # download_stopped hides the box
            self.focus = None
            self._show_download()

    def _import(self) -> None:
        path = Dialogs.open_model(self, "")
        if path:
            self.import_requested.emit(path)

    # -- the running download ------------------------------------------------------------------

    def _started(self, file_id: str) -> None:
        self.focus = self.manager.active.file if self.manager.active else self.focus
        self.failure = None
        self.message.clear()
        self.refresh()
        self._show_download()

    def _progressed(self, file_id: str, p) -> None:
        if self.focus is not None and self.focus.id == file_id:
            self.progress.setValue(int(p.fraction * 1000))
            self.progress_label.setText(progress_text(p))

    def _stopped(self, file_id: str, deleted: bool) -> None:
        if deleted or self._cancelling:
            self.focus = None
            self.failure = None
        self._cancelling = False
        self.refresh()
        self._show_download()

    def _failed(self, file_id: str, message: str, kind: str) -> None:
        self.failure = (file_id, message, kind)
        if self.focus is None or self.focus.id != file_id:
            self.focus = next((f for f in self.manager.catalog.files() if f.id == file_id), self.focus)
        self.refresh()
        self._show_download()

    def _finished(self, file_id: str, path: str) -> None:
        self.refresh()
        self._show_download()
        self.message.setText(f"Downloaded and verified: {Path(path).name}. Press Use to load it.")

    def _show_download(self) -> None:
        f = self.focus
        active = self.manager.active
        running = active is not None and f is not None and active.file.id == f.id
        st = self._states.get(f.id) if f is not None else None
        self.download_box.setVisible(f is not None)
        if f is None:
            return
        self.download_title.setText(f"{f.model_name} {f.quant} · {f.primary.spec}")
        failed = self.failure is not None and self.failure[0] == f.id and not running
        for b in (self.retry_button, self.dismiss_button):
            b.setVisible(failed)
        self.delete_partial_button.setVisible(failed and st is not None and st.state == "partial")
        self.progress.setVisible(not failed or (st is not None and st.state == "partial"))
        if failed:
            self._show_failure(st)
            return
        if running and active.progress is not None:
            self._progressed(f.id, active.progress)
        elif st is not None and st.state == "partial":
            self.progress.setValue(int(st.done / st.size * 1000) if st.size else 0)
            self.progress_label.setText(f"Paused at {size_text(st.done)} of {size_text(st.size)}.")
        elif st is not None and st.usable:
            self.progress.setValue(1000)
            self.progress_label.setText("")
        self.pause_button.setEnabled(running)
        self.resume_button.setEnabled(not running and st is not None and st.state in ("partial", "absent"))
        self.cancel_button.setEnabled(running or (st is not None and st.state == "partial"))
        self.redownload_button.setVisible(st is not None and st.state == "corrupt")
        done = st is not None and st.usable and not running  # nothing left to pause or cancel
        for b in (self.pause_button, self.resume_button, self.cancel_button):
            b.setVisible(not done)

    def _show_failure(self, st: CatalogState | None) -> None:
        """The error once (the core's words, then what to do), with Retry and Dismiss instead
        of the running download's buttons."""
        _, message, kind = self.failure
        kept = st is not None and st.state == "partial"
        for b in (self.pause_button, self.resume_button, self.cancel_button, self.redownload_button):
            b.setVisible(False)
        if kept:
            self.progress.setValue(int(st.done / st.size * 1000) if st.size else 0)
            self.progress_label.setText(f"{size_text(st.done)} of {size_text(st.size)} downloaded before it stopped.")
        else:
            self.progress_label.setText("")
        self.message.setText(failure_text(message, kind, kept))
        self.retry_button.setDefault(True)


def _describe(st: CatalogState | None, downloading: bool) -> tuple[str, str]:
    """(state text, action button text) for a catalog file."""
    if downloading:
        return "downloading…", "Downloading…"
    if st is None or st.state == "absent":
        return "not downloaded", "Download"
    if st.state == "partial":
        pct = int(st.done / st.size * 100) if st.size else 0
        return f"partial, {pct}%", "Resume"
    if st.state == "verified":
        return "downloaded, verified", "Use"
    if st.state == "unverified":
        return "downloaded, not yet checked", "Use"
    return "damaged (checksum mismatch)", "Download again"
