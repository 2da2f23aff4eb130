"""What the conversation area shows before any model is chosen: a welcome, the default
download (with its size) as the one obvious step, and a way to use a .gguf already on disk."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app import paths
from app.core.catalog import CatalogFile
from app.ui import style
from app.ui.models.download_text import failure_text, percent, progress_text, short_size, size_text
from app.ui.models.model_manager import ModelManager
from app.ui.plain import plain_label


class FirstRunPanel(QWidget):
    download_requested = Signal(object)  # CatalogFile
    import_requested = Signal()
    models_requested = Signal()
    use_requested = Signal(str)  # a model already downloaded

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRun")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)  # the conversation's background
        self.manager = manager
        self.file: CatalogFile = manager.catalog.default_file()
        logo = QLabel()
        logo.setPixmap(QIcon(str(paths.resource("icons", "ponder.svg"))).pixmap(64, 64))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Welcome to Ponder")
        title.setObjectName("welcomeTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        tagline = QLabel("A reasoning model on your own computer: it thinks a problem through, shows you how, "
                         "then answers. Your questions never leave this machine.")
        tagline.setObjectName("welcomeText")
        tagline.setWordWrap(True)
        tagline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        step = QLabel("One step first: get the model.")
        step.setObjectName("welcomeStep")
        step.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = plain_label()
        self.text.setObjectName("welcomeText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.download_button = QPushButton()
        self.download_button.setObjectName("primaryButton")
        self.download_button.setDefault(True)
        self.use_button = QPushButton()
        self.use_button.setObjectName("primaryButton")
        self.use_button.hide()
        self.import_button = QPushButton("I already have a .gguf…")
        self.import_button.setFlat(True)
        self.more_button = QPushButton("All models…")
        self.more_button.setFlat(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = plain_label()  # a server's or the disk's words
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        main = QHBoxLayout()
        main.addStretch(1)
        main.addWidget(self.use_button)
        main.addWidget(self.download_button)
        main.addStretch(1)
        others = QHBoxLayout()
        others.addStretch(1)
        others.addWidget(self.import_button)
        others.addWidget(self.more_button)
        others.addStretch(1)
        column = QVBoxLayout()
        column.setSpacing(style.M)
        column.addWidget(logo)
        column.addWidget(title)
        column.addWidget(tagline)
        column.addSpacing(style.L)
        column.addWidget(step)
        column.addLayout(main)
        column.addWidget(self.progress)
        column.addWidget(self.status)
        column.addLayout(others)
        column.addSpacing(style.S)
        column.addWidget(self.text)
        inner = QWidget()
        inner.setMaximumWidth(560)
        inner.setLayout(column)
        # Stretches, not an alignment flag: an aligned widget gets its size hint, which
        # cuts word-wrapped text short instead of giving it the lines it needs.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(inner, 4)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

        self.download_button.clicked.connect(lambda: self.download_requested.emit(self.file))
        self.import_button.clicked.connect(self.import_requested)
        self.more_button.clicked.connect(self.models_requested)
        self.use_button.clicked.connect(lambda: self.use_requested.emit(self.use_button.property("path")))
        manager.sizes_ready.connect(self.refresh)
        manager.states_changed.connect(self.refresh)
        manager.download_started.connect(self._progressed)
        manager.download_progressed.connect(self._progressed)
        manager.download_failed.connect(self._failed)
        manager.download_stopped.connect(self._stopped)
        self.refresh()

    def refresh(self, *_) -> None:
        f = self.file
        exact = self.manager.exact_sizes.get(f.primary.spec)
        size = size_text(exact) if exact else size_text(f.approx_size, approx=True)
        self.text.setText(
            f"Ponder uses {f.model_name}. It is downloaded once ({f.quant}, {size}, "
            f"from {f.primary.repo_id}); after that Ponder works without a network. The download can be "
            f"paused and resumes where it stopped, and the file is checked before it is used.")
        states = self.manager.states()
        st = next((s for s in states if s.file.id == f.id), None)
        verb = "Resume downloading" if st is not None and st.state == "partial" else "Download"
        self.download_button.setText(f"{verb} {f.model_name} ({short_size(exact or f.approx_size)})")
        self.download_button.setEnabled(self.manager.active is None)
        usable = next((s for s in states if s.usable), None)
        self.use_button.setVisible(usable is not None)
        if usable is not None:
            self.use_button.setText(f"Use {usable.file.model_name} {usable.file.quant} (downloaded)")
            self.use_button.setProperty("path", str(usable.path))
        if self.manager.active is None:
            self.progress.hide()

    def _progressed(self, *_) -> None:
        active = self.manager.active
        if active is None:
            return
        self.download_button.setEnabled(False)
        self.progress.show()
        self.progress.setValue(percent(active.progress))
        self.status.setText(f"Downloading {active.file.model_name} {active.file.quant}: "
                            + (progress_text(active.progress) if active.progress is not None else "starting…"))

    def _failed(self, file_id: str, message: str, kind: str) -> None:
        self.refresh()
        kept = any(s.file.id == file_id and s.state == "partial" for s in self.manager.states())
        self.status.setText(failure_text(message, kind, kept))

    def _stopped(self, file_id: str, deleted: bool) -> None:
        self.refresh()
        self.status.setText("Download cancelled." if deleted else "Paused; it resumes where it stopped.")
