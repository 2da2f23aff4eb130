"""The main window's side of models: the Models… dialog, the first-run panel, the status-bar
download readout, importing (and dropping) .gguf files, and the check before a file loads.

Choosing a model always goes through ModelManager.prepare, so a downloaded file is
verified before its first load and a damaged one never reaches the GenerationWorker;
then ModelSession.load_model, the same path as --model and Open model….
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject

from app import paths
from app.core.catalog import CatalogFile, load_catalog
from app.core.errors import AppError
from app.core.local_models import ImportedModels
from app.core.verify import VerifiedStore
from app.ui.dialogs import Dialogs
from app.ui.models.download_indicator import DownloadIndicator
from app.ui.models.download_text import failure_text
from app.ui.models.download_worker import DownloadPlace
from app.ui.models.load_notices import LoadNotices
from app.ui.models.model_manager import ModelManager
from app.ui.notice_banner import notice_ms

log = logging.getLogger(__name__)


def default_manager(settings) -> ModelManager:
    """Downloads into the models folder chosen in Settings, or else the shared Hugging Face
    cache (where other tools find them too); records in the app's data folder."""
    folder = Path(settings.models_dir).expanduser() if settings.models_dir else None
    place = DownloadPlace(VerifiedStore(paths.data_dir() / "verified.json"), dest_dir=folder)
    return ModelManager(load_catalog(), place, ImportedModels(paths.data_dir() / "models.json"), models_dir=folder)


def gguf_paths(mime) -> list[str]:
    """The local .gguf files in a drag; other files are someone else's to take."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().lower().endswith(".gguf")]


class ModelsFront(QObject):
    def __init__(self, window, models, settings, manager: ModelManager | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.session = models  # ModelSession: loads what the checks let through
        self.settings = settings
        self.manager = manager or default_manager(settings.value)
        self.dialog = None
        self.first_run = None
        self._load_when_downloaded: str | None = None  # a download started from the first-run panel
        self._ever_ready = False
        self.indicator = DownloadIndicator(self.manager)
        # Left of the window's own permanent widgets: the speed readout stays at the far right.
        window.statusBar().insertPermanentWidget(0, self.indicator)
        self.notices = LoadNotices(window.banner, models, self)  # failed loads, no model to send to
        self.indicator.clicked.connect(self.open_dialog)
        m = self.manager
        m.model_ready.connect(models.load_model)
        m.model_refused.connect(self._refused)
        m.verify_started.connect(lambda path: self._say(f"Checking {Path(path).name} before its first use…"))
        m.verify_progressed.connect(self._verifying)
        m.download_finished.connect(self._downloaded)
        m.download_failed.connect(self._failed)
        models.model_changed.connect(self._model_changed)

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, notice_ms(text))

    # -- the dialog --------------------------------------------------------------------------

    def open_dialog(self):
        if self.dialog is None:
            from app.ui.models.models_dialog import ModelsDialog

            self.dialog = ModelsDialog(self.manager, self.window)
            self.dialog.model_chosen.connect(self.choose_model)
            self.dialog.import_requested.connect(self.import_model)
        else:
            self.dialog.refresh()
            self.manager.fetch_sizes()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    # -- choosing, checking, loading ----------------------------------------------------------

    def choose_model(self, path: str | Path) -> None:
        """Load `path` once it is safe: verified first if it is a download not yet checked."""
        self.manager.prepare(str(path))

    def open_model_file(self) -> None:
        """Ask for a .gguf on disk and load it."""
        path = Dialogs.open_model(self.window, self.settings.value.models_dir)
        if path:
            self.choose_model(path)

    def model_needed(self) -> None:
        """A question found no model ready: the banner says how to get one."""
        self.notices.model_needed()

    def downloaded_model(self) -> tuple[str, str] | None:
        """(name, path) of a catalog model already downloaded and usable, if any."""
        try:
            usable = next((s for s in self.manager.states() if s.usable), None)
        except OSError:
            return None
        return (f"{usable.file.model_name} {usable.file.quant}", str(usable.path)) if usable else None

    def default_model_name(self) -> str:
        return self.manager.catalog.default_file().model_name

    def _verifying(self, path: str, done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        self._say(f"Checking {Path(path).name} before its first use: {pct}%")

    def _refused(self, path: str, why: str) -> None:
        cfile = self.manager.catalog_file_for(path)
        if cfile is None:
            Dialogs.error(self.window, why)
        elif Dialogs.confirm(self.window, "Damaged model", why, "Download again"):
            self.download(cfile, load=True)

    def download(self, cfile: CatalogFile, load: bool = False) -> None:
        if self.manager.start_download(cfile) and load:
            self._load_when_downloaded = cfile.id

    def _downloaded(self, file_id: str, path: str) -> None:
        self._say(f"Downloaded and verified {Path(path).name}.")
        if self._load_when_downloaded == file_id:
            self._load_when_downloaded = None
            self.choose_model(path)

    def _failed(self, file_id: str, message: str, kind: str) -> None:
        if self._load_when_downloaded == file_id:
            self._load_when_downloaded = None
        if self.dialog is None or not self.dialog.isVisible():
            self._say(failure_text(message, kind).split("\n")[0])

    # -- import --------------------------------------------------------------------------------

    def import_model(self, path: str | Path) -> bool:
        """Validate and add a .gguf; offer to load it. False (and the reason shown) if it is unusable."""
        try:
            info = self.manager.imported.add(path)
        except AppError as exc:
            Dialogs.error(self.window, exc.user_message)
            return False
        except OSError as exc:
            Dialogs.error(self.window, f"{path} could not be read: {exc.strerror or exc}")
            return False
        self.manager.states_changed.emit()
        self._say(f"Added {info.path.name}.")
        if Dialogs.confirm(self.window, "Model added",
                           f"{info.path.name} ({info.architecture}) was added to your models. Load it now?", "Load"):
            self.choose_model(info.path)
        return True

    def import_from_file_dialog(self) -> None:
        path = Dialogs.open_model(self.window, self.settings.value.models_dir)
        if path:
            self.import_model(path)

    # -- first run -----------------------------------------------------------------------------

    def show_first_run(self) -> None:
        """No model chosen yet: the conversation area offers the default download instead."""
        if self.first_run is None:
            from app.ui.models.first_run import FirstRunPanel

            panel = self.first_run = FirstRunPanel(self.manager)
            panel.setProperty("replacesChat", True)
            panel.download_requested.connect(lambda f: self.download(f, load=True))
            panel.import_requested.connect(self.import_from_file_dialog)
            panel.models_requested.connect(self.open_dialog)
            panel.use_requested.connect(self.choose_model)
        self.window.show_in_place_of_chat(self.first_run)
        self.manager.fetch_sizes()

    def _model_changed(self, state: str, _text: str) -> None:
        if state == "ready":
            self._ever_ready = True
        if state in ("loading", "ready") and self.first_run is not None and self.first_run.isVisible():
            self.window.show_in_place_of_chat(None)
        elif state == "failed" and not self._ever_ready:
            # The remembered model is gone or broken at start: offer the way to get one.
            self.show_first_run()

    def shutdown(self) -> None:
        self.manager.shutdown()
