"""What the banner above the conversation says about models: a load that failed (with
the ways on from there) and, when a question has no model to go to, how to get one.

The failure stays until the person dismisses it, acts on it, or starts another load;
the model that worked before is still loaded meanwhile, and the text says so.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from app.ui.models.model_session import LoadFailure, ModelSession
from app.ui.notice_banner import NoticeBanner

LOAD, NO_MODEL = "load", "no-model"  # banner keys


class LoadNotices(QObject):
    """`front` is the window's ModelsFront: its public methods are what the buttons do."""

    def __init__(self, banner: NoticeBanner, models: ModelSession, front) -> None:
        super().__init__(banner)
        self.banner = banner
        self.models = models
        self.front = front
        self._putting_back: LoadFailure | None = None  # shown while the model that worked loads again
        models.load_failed.connect(self._failed)
        models.model_changed.connect(self._changed)

    def _failed(self, failure: LoadFailure, put_back: bool = False) -> None:
        self._putting_back = failure if failure.reloading and not put_back else None
        text = failure.message
        if put_back:
            text += f"\n\n{failure.kept}, the model you had before, is loaded again."
        elif failure.reloading:
            text += f"\n\nLoading {failure.kept} again, the model you had before."
        elif failure.kept:
            text += f"\n\n{failure.kept} is still loaded; you can keep using it."
        actions = []
        if failure.retry_layers is not None:
            n = failure.retry_layers
            label = f"Retry with {n} layers on the GPU" if n else "Retry on the CPU only"
            actions.append((label, lambda: self.models.retry_failed(n)))
        elif not failure.file_problem:  # the same damaged or missing file would fail the same way
            actions.append(("Try again", self.models.retry_failed))
        actions += [("Choose another model…", self.front.open_model_file),
                    ("Open Models…", self.front.open_dialog)]
        self.banner.show_notice(text, actions, kind="error", key=LOAD)

    def _changed(self, state: str, _text: str) -> None:
        if state == "loading" and not self.models.restoring:
            self.banner.clear(LOAD)  # a new try: its own outcome replaces the old failure
            self.banner.clear(NO_MODEL)
        elif state == "ready":
            self.banner.clear(NO_MODEL)
            if self._putting_back is not None and self.banner.key == LOAD:
                self._failed(self._putting_back, put_back=True)  # "loading again" is over
            self._putting_back = None

    def model_needed(self) -> None:
        """A question was sent with no model ready: say why nothing happened and how to go on."""
        if self.models.loading:
            name = Path(self.models.loading_path).name
            self.banner.show_notice(f"{name} is still loading. Send again once it is ready; "
                                    f"your question stays in the box.", kind="info", key=NO_MODEL)
            return
        actions = [("Open a model…", self.front.open_model_file)]
        usable = self.front.downloaded_model()
        if usable is not None:
            name, path = usable
            actions.insert(0, (f"Load {name}", lambda: self.front.choose_model(path)))
        else:
            actions.append((f"Download {self.front.default_model_name()}…", self.front.open_dialog))
        self.banner.show_notice("No model is loaded yet, so there is nothing to answer. Load a model, "
                                "then send again; your question stays in the box.",
                                actions, kind="info", key=NO_MODEL)
