"""The models dialog, downloads and imports in the real window, against a local Hub
(tests/hub_server.py) serving a real tiny GGUF, with the scripted engine behind the
real GenerationWorker. Downloads run on the manager's own worker thread."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.core.catalog import Catalog
from app.core.errors import ModelMissing
from app.core.hub import RetryPolicy
from app.core.local_models import ImportedModels
from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store
from app.core.verify import VerifiedStore
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.dialogs import Dialogs
from app.ui.models.download_worker import DownloadPlace
from app.ui.main_window import MainWindow
from app.ui.models.model_manager import ModelManager
from tests import model_files
from tests.hub_server import LocalHub

REPO, FILE = "tester/Tiny-Phi-GGUF", "Tiny-Phi-Q4_K_M.gguf"
CATALOG = {
    "default": {"model": "tiny", "quant": "Q4_K_M"},
    "models": [
        {"id": "tiny", "name": "Tiny-Phi", "description": "A tiny phi3 model for tests.",
         "repos": [{"repo_id": REPO, "pattern": "Tiny-Phi-{quant}.gguf"}],
         "sizes": {"Q4_K_M": 12_000_000, "Q8_0": 20_000_000}},
        {"id": "gone", "name": "Gone", "description": "Listed, but not on the Hub.",
         "repos": [{"repo_id": REPO, "pattern": "Gone-{quant}.gguf"}], "sizes": {"Q4_K_M": 1_000_000}},
        # A repository the Hub refuses: its size lookup fails while a download may be running.
        {"id": "private", "name": "Private", "description": "Not ours to read.",
         "repos": [{"repo_id": "tester/Private-GGUF", "pattern": "Private-{quant}.gguf"}],
         "sizes": {"Q4_K_M": 2_000_000}},
    ],
}


class UI:
    def __init__(self, qtbot, tmp_path: Path, hub: LocalHub) -> None:
        self.qtbot, self.hub, self.engines = qtbot, hub, []
        self.cache = tmp_path / "hf-cache"
        self.lmstudio = tmp_path / "lmstudio"
        place = DownloadPlace(VerifiedStore(tmp_path / "verified.json"), cache_dir=self.cache, endpoint=hub.url,
                              retry=RetryPolicy(attempts=2, base_delay=0.0))
        self.manager = ModelManager(Catalog(CATALOG), place, ImportedModels(tmp_path / "models.json"),
                                    lmstudio=[self.lmstudio])
        self.store = Store(tmp_path / "chat.db")
        self.session = ChatSession.create(self.store, Settings(), self._factory)
        self.models = self.session.models
        self.settings = self.session.settings
        self.window = MainWindow(self.session, manager=self.manager)
        self.window.show()

    def _factory(self, path, load):
        self.engines.append(path)
        return ScriptedEngine("<think>Small.</think>Done.", chunk=4)

    def download(self, dialog, model_id: str = "tiny", timeout: int = 30000) -> str:
        with self.qtbot.waitSignal(self.manager.download_finished, timeout=timeout) as blocker:
            dialog.row_for(model_id).action.click()
        return blocker.args[1]

    def partials(self) -> list[Path]:
        return list(self.cache.rglob("*.incomplete")) if self.cache.exists() else []


@pytest.fixture
def hub(tiny_phi3):
    with LocalHub() as h:
        h.add(REPO, FILE, tiny_phi3.read_bytes())
        yield h


@pytest.fixture
def ui(qtbot, tmp_path, hub):
    made = UI(qtbot, tmp_path, hub)
    yield made
    threads = list(made.manager._threads)
    made.window.close()
    made.store.close()
    assert all(t.isFinished() for t in threads)  # no download or check thread left running


@pytest.fixture
def said(monkeypatch):
    """What the app told the person (errors) and asked (confirmations), answered by the test."""
    record = {"errors": [], "asked": [], "answer": True, "stop": "delete"}
    monkeypatch.setattr(Dialogs, "error", lambda parent, message: record["errors"].append(message))

    def confirm(parent, title, question, action):
        record["asked"].append((title, question, action))
        return record["answer"]

    monkeypatch.setattr(Dialogs, "confirm", confirm)
    monkeypatch.setattr(Dialogs, "stop_download", lambda parent, kept: record["stop"])
    return record


def slow(hub: LocalHub) -> None:
    hub.faults.chunk, hub.faults.delay = 16 * 1024, 0.01  # the server's pace: about 1.6 MB/s


def stop_at(manager, button, at: int = 200_000):
    """Click `button` once the download has passed `at` bytes (the click happens in the GUI thread)."""
    def check(_file_id, p):
        if p.done >= at and button.isEnabled():
            button.click()

    manager.download_progressed.connect(check)
    return check


def test_dialog_lists_the_catalog_with_sizes_and_states(ui, hub, tiny_phi3, qtbot):
    with qtbot.waitSignal(ui.manager.sizes_ready) as blocker:
        dialog = ui.window.open_models()
    assert blocker.args[0] == {f"{REPO}/{FILE}": tiny_phi3.stat().st_size}  # exact, from the Hub
    tiny, gone = dialog.row_for("tiny"), dialog.row_for("gone")
    assert tiny.quant.currentText() == "Q4_K_M" and [tiny.quant.itemText(i) for i in range(2)] == ["Q4_K_M", "Q8_0"]
    assert tiny.size.text() == f"{tiny_phi3.stat().st_size / 1e6:.1f} MB"
    assert gone.size.text() == "about 1.0 MB"  # the Hub has no such file: the catalog's estimate
    assert dialog.row_for("private").size.text() == "about 2.0 MB"
    assert (tiny.state.text(), tiny.action.text()) == ("not downloaded", "Download")
    tiny.quant.setCurrentText("Q8_0")
    assert tiny.size.text() == "about 20.0 MB"


def test_download_shows_progress_in_the_dialog_and_status_bar_then_use_loads_it(ui, hub, tiny_phi3, qtbot):
    hub.faults.chunk, hub.faults.delay = 16 * 1024, 0.002
    dialog = ui.window.open_models()
    seen = []
    ui.manager.download_progressed.connect(lambda _id, p: seen.append(
        (p.done, dialog.progress.value(), dialog.progress_label.text(), ui.window.models.indicator.isVisibleTo(ui.window))))
    path = ui.download(dialog)
    assert Path(path).read_bytes() == tiny_phi3.read_bytes()
    middle = [s for s in seen if 0 < s[1] < 1000]
    assert middle and all(" of " in label and "/s" in label for _, _, label, _ in middle)
    assert all(shown for *_, shown in seen)  # the status bar showed it while it ran...
    assert not ui.window.models.indicator.isVisibleTo(ui.window)  # ...and not after
    row = dialog.row_for("tiny")
    assert (row.state.text(), row.action.text()) == ("downloaded, verified", "Use")

    with qtbot.waitSignal(ui.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        row.action.click()
    assert ui.models.model_path == path and ui.engines == [Path(path)]
    assert ui.settings.value.model_path == path  # loaded again at the next start


def test_pause_then_resume_continues_with_a_range_request(ui, hub, tiny_phi3, qtbot):
    slow(hub)
    dialog = ui.window.open_models()
    pauser = stop_at(ui.manager, dialog.pause_button)
    with qtbot.waitSignal(ui.manager.download_stopped, timeout=30000) as blocker:
        dialog.row_for("tiny").action.click()
    assert blocker.args == ["tiny:Q4_K_M", False]
    (part,) = ui.partials()
    kept = part.stat().st_size
    assert 200_000 <= kept < tiny_phi3.stat().st_size
    assert dialog.row_for("tiny").state.text().startswith("partial, ")
    assert dialog.progress_label.text().startswith("Paused at") and dialog.resume_button.isEnabled()

    ui.manager.download_progressed.disconnect(pauser)
    hub.faults.delay = 0.0
    hub.clear()
    with qtbot.waitSignal(ui.manager.download_finished, timeout=30000) as done:
        dialog.resume_button.click()
    assert Path(done.args[1]).read_bytes() == tiny_phi3.read_bytes()
    assert hub.requests("cdn", "GET")[0].range == f"bytes={kept}-"
    assert ui.manager.store.state(Path(done.args[1])) == "verified" and not ui.partials()


def test_cancel_stops_and_deletes_the_partial_when_asked(ui, hub, said, qtbot):
    slow(hub)
    dialog = ui.window.open_models()
    stop_at(ui.manager, dialog.cancel_button)
    with qtbot.waitSignal(ui.manager.download_stopped, timeout=30000) as blocker:
        dialog.row_for("tiny").action.click()
    assert blocker.args == ["tiny:Q4_K_M", True]
    assert ui.partials() == [] and ui.manager.store.partials() == {}
    assert dialog.row_for("tiny").state.text() == "not downloaded" and not dialog.download_box.isVisibleTo(dialog)


def test_no_network_says_what_to_do_and_the_app_stays_usable(ui, hub, qtbot):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    ui.manager.place = replace(ui.manager.place, endpoint=closed)
    dialog = ui.window.open_models()
    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000) as blocker:
        dialog.row_for("tiny").action.click()
    assert dialog.message.text() == blocker.args[1] and "Check your network" in blocker.args[1]  # said once
    assert dialog.row_for("tiny").action.isEnabled()
    with qtbot.waitSignal(ui.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        ui.models.load_model("/models/scripted.gguf")
    with qtbot.waitSignal(ui.session.busy_changed, check_params_cb=lambda busy: not busy):
        assert ui.session.send("Still there?")
    assert ui.store.path(ui.session.thread_id)[-1].content == "Done."


def test_a_file_missing_from_the_hub_is_reported(ui, qtbot):
    dialog = ui.window.open_models()
    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000) as blocker:
        dialog.row_for("gone").action.click()
    assert "not found" in blocker.args[1] and blocker.args[1] in dialog.message.text()


def test_a_damaged_download_offers_to_download_again(ui, hub, tiny_phi3, qtbot):
    hub.faults.corrupt.add(next(iter(hub.blobs)))
    dialog = ui.window.open_models()
    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000) as blocker:
        dialog.row_for("tiny").action.click()
    assert blocker.args[2] == "checksum" and "download it again" in dialog.message.text()
    assert dialog.retry_button.isVisibleTo(dialog) and not ui.partials()
    hub.faults.corrupt.clear()
    with qtbot.waitSignal(ui.manager.download_finished, timeout=30000) as done:
        dialog.retry_button.click()
    assert Path(done.args[1]).read_bytes() == tiny_phi3.read_bytes()


def test_an_unchecked_download_is_verified_before_it_loads(ui, qtbot):
    path = ui.download(ui.window.open_models())
    ui.manager.store.forget(Path(path))
    checked = []
    ui.manager.verify_progressed.connect(lambda p, done, total: checked.append((done, total)))
    with qtbot.waitSignal(ui.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        ui.window.choose_model(path)
    assert checked and checked[-1][0] == checked[-1][1] == Path(path).stat().st_size
    assert ui.manager.store.state(Path(path)) == "verified" and ui.engines == [Path(path)]


def test_a_damaged_file_is_never_loaded_and_offered_again(ui, said, qtbot):
    dialog = ui.window.open_models()
    path = ui.download(dialog)
    with open(path, "r+b") as fh:  # bit rot after the download: same size, other bytes
        fh.seek(5000)
        byte = fh.read(1)
        fh.seek(5000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    said["answer"] = False
    with qtbot.waitSignal(ui.manager.model_refused, timeout=30000):
        ui.window.choose_model(path)
    (title, why, action), = said["asked"]
    assert "damaged" in why and action == "Download again"
    assert ui.engines == [] and ui.models.model_path is None
    row = dialog.row_for("tiny")
    assert row.state.text().startswith("damaged") and row.action.text() == "Download again"


def test_import_of_a_bad_file_shows_why(ui, said, tmp_path):
    bad = model_files.make_random_bytes(tmp_path / "broken.gguf")
    assert not ui.window.import_model(bad)
    (message,) = said["errors"]
    assert "broken.gguf" in message
    assert ui.manager.imported.entries() == []


def test_import_of_a_good_file_adds_it_and_loads_it(ui, said, tiny_phi3, qtbot):
    with qtbot.waitSignal(ui.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        assert ui.window.import_model(tiny_phi3)
    assert [e["path"] for e in ui.manager.imported.entries()] == [str(tiny_phi3.resolve())]
    assert said["asked"][0][2] == "Load" and ui.engines == [tiny_phi3]


def test_a_dropped_gguf_is_imported_and_other_files_are_left_alone(ui, said, tiny_phi3, tmp_path):
    said["answer"] = False
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes)), QUrl.fromLocalFile(str(tiny_phi3))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    ui.window.dropEvent(event)
    assert event.isAccepted()
    assert [e["path"] for e in ui.manager.imported.entries()] == [str(tiny_phi3.resolve())]
    only_text = QMimeData()
    only_text.setUrls([QUrl.fromLocalFile(str(notes))])
    other = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, only_text, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    ui.window.dropEvent(other)
    assert not other.isAccepted() and said["errors"] == []


def test_a_gguf_found_elsewhere_can_be_added(ui, said, tiny_phi3, qtbot):
    said["answer"] = False
    ui.lmstudio.mkdir()
    found = ui.lmstudio / "tiny-phi3.gguf"
    found.write_bytes(tiny_phi3.read_bytes())
    dialog = ui.window.open_models()
    add = next(b for b in dialog.local_box.findChildren(type(dialog.import_button)) if b.text() == "Add")
    add.click()
    assert [e["path"] for e in ui.manager.imported.entries()] == [str(found.resolve())]
    qtbot.waitUntil(lambda: any(b.text() == "Use" and b.isVisibleTo(dialog)
                                for b in dialog.local_box.findChildren(type(dialog.import_button))))


def test_first_run_offers_the_default_download_and_loads_it(ui, qtbot):
    ui.window.show_first_run()
    panel = ui.window.models.first_run
    assert panel.isVisible() and not ui.window.chat.isVisible()
    assert panel.download_button.text().startswith("Download Tiny-Phi (about ")
    assert panel.import_button.text() == "I already have a .gguf…"
    with qtbot.waitSignal(ui.models.model_changed, timeout=30000, check_params_cb=lambda s, t: s == "ready"):
        panel.download_button.click()
    assert ui.models.model_path and Path(ui.models.model_path).name == FILE
    assert not panel.isVisible() and ui.window.chat.isVisible()


def test_a_remembered_model_that_is_gone_leads_to_the_first_run_offer(ui, qtbot, tmp_path):
    missing = str(tmp_path / "deleted.gguf")
    ui.models._worker._factory = lambda path, load: (_ for _ in ()).throw(ModelMissing(f"{path} is gone."))
    with qtbot.waitSignal(ui.models.model_changed, check_params_cb=lambda s, t: s == "failed"):
        ui.window.choose_model(missing)
    assert ui.window.models.first_run.isVisible() and not ui.window.chat.isVisible()


def shown_buttons(dialog) -> list[str]:
    return [b.text() for b in dialog.download_box.findChildren(type(dialog.retry_button)) if b.isVisibleTo(dialog)]


def test_a_failed_download_says_so_once_and_can_be_dismissed(ui, qtbot):
    dialog = ui.window.open_models()
    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000) as blocker:
        dialog.row_for("gone").action.click()
    assert dialog.message.text() == blocker.args[1]  # the error once, nowhere else in the box
    texts = [dialog.download_title.text(), dialog.progress_label.text()]
    assert not any(blocker.args[1] in t for t in texts) and not dialog.progress.isVisibleTo(dialog)
    assert shown_buttons(dialog) == ["Retry", "Dismiss"]  # no greyed-out Cancel, no Pause
    dialog.dismiss_button.click()
    assert not dialog.download_box.isVisibleTo(dialog)
    assert dialog.row_for("gone").action.isEnabled()  # it can still be tried from its row


def test_a_failed_download_with_a_partial_offers_to_delete_it(ui, hub, tiny_phi3, qtbot):
    hub.faults.cut_every = 300_000  # the connection drops on every try: the download gives up
    dialog = ui.window.open_models()
    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000) as blocker:
        dialog.row_for("tiny").action.click()
    (part,) = ui.partials()
    assert dialog.message.text() == blocker.args[1]  # it already says the download continues
    assert shown_buttons(dialog) == ["Delete partial file", "Retry", "Dismiss"]
    assert dialog.progress_label.text().endswith("downloaded before it stopped.")
    dialog.delete_partial_button.click()
    assert not part.exists() and ui.manager.store.partials() == {}
    assert not dialog.download_box.isVisibleTo(dialog)
    assert dialog.row_for("tiny").state.text() == "not downloaded"

    with qtbot.waitSignal(ui.manager.download_failed, timeout=30000):
        dialog.row_for("tiny").action.click()
    hub.faults.cut_every = None
    with qtbot.waitSignal(ui.manager.download_finished, timeout=30000) as done:
        dialog.retry_button.click()
    assert Path(done.args[1]).read_bytes() == tiny_phi3.read_bytes()
    assert hub.requests("cdn", "GET")[-1].range  # the retry went on from the part kept
    assert shown_buttons(dialog) == []  # done: no greyed-out Pause, Resume or Cancel
    assert "Downloaded and verified" in dialog.message.text()
