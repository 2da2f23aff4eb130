"""A tour of the real window, light and dark, to look it over as a newcomer would.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_tour.py /tmp/tour

writes NN-scene-light.png and NN-scene-dark.png into the folder for each scene: the first
run (no model), a real model loaded (SmolLM2, the test model), a streaming reply with its
thinking, the folded result, editing a question, the thread list by date with a reply's
thinking open, a search, the Models dialog, Settings, a load that failed (with and without
a model kept), the window at 800 and 600 px, the layers controls as on a GPU machine, a
reply from a model server (a vLLM stand-in on 127.0.0.1, shown as another computer) with
the badge, the Connections dialog after a test, Settings > Memory and disk with saved
conversations on disk, and the status bar after a reply whose prompt was restored from disk.
Replies come from the scripted engine replaying what Phi-4-reasoning writes; loads that
matter use llama.cpp on real files. Nothing reaches a model hub: downloads point at a
closed local port, and every file lives in a temporary folder. `--only NAME` shoots the
scenes whose name contains NAME.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub

from make_screenshots import ANSWER, FOLLOW_UP, QUESTION, THINKING, Stage, settle, wait
from PySide6.QtWidgets import QApplication

from app.core.catalog import load_catalog
from app.core.local_models import ImportedModels
from app.core.store import Store
from app.core.verify import VerifiedStore
from app.ui.models.download_worker import DownloadPlace
from app.ui.models.model_manager import ModelManager
from tests.model_files import make_random_bytes, smollm2_path

DAY = 86_400.0
FOLLOW_UP_THINKING = (
    "Now the even numbers: 2, 4, 6, ..., 2n. Each is one more than the matching odd number, so the sum should be "
    "n^2 + n = n(n + 1). Let me check small cases: 2 = 1·2, 2 + 4 = 6 = 2·3, 2 + 4 + 6 = 12 = 3·4. Good.\n\n"
    "Alternatively, factor out the 2: 2(1 + 2 + ... + n) = 2 · n(n + 1)/2 = n(n + 1). Both routes agree, and the "
    "induction step is the same shape as before: adding 2(k + 1) to k(k + 1) gives (k + 1)(k + 2).")
FOLLOW_UP_REPLY = (f"<think>{FOLLOW_UP_THINKING}</think>Yes, with one change: the first $n$ even numbers add up to "
                   "$n(n + 1)$, one more than each odd number, so $n$ more in all.")

# (days ago, title, question, thinking, answer, seconds of thinking): a history as someone who
# uses a reasoning model builds one, so the list shows each date group and a search finds a
# word in titles, answers and thinking alike. The first is the newest.
HISTORY = [
    (0, "Sum of the first n odd numbers", QUESTION, THINKING, ANSWER, 41),
    (0, "Monty Hall, switch or stay?", "In the Monty Hall problem, should I switch doors?",
     ("Three doors, one car. After the host opens a goat door, switching wins whenever the first pick was wrong, "
      "which happens 2/3 of the time. Check by induction over the cases? No, just enumerate them."),
     "Switch: you win with probability **2/3**, staying wins with **1/3**.", 23),
    (1, "Integral of x·e^x", "What is the integral of x e^x?",
     "Integration by parts with u = x and dv = e^x dx gives x e^x - e^x.",
     r"$$\int x e^x\,dx = (x - 1)e^x + C$$", 12),
    (4, "Dijkstra or A* for a grid?", "For a 2D grid with walls, Dijkstra or A*?",
     ("A* with the Manhattan distance is admissible on a 4-connected grid, so it finds the same shortest path "
      "while expanding fewer cells."),
     "Use **A\\*** with the Manhattan distance: same path as Dijkstra, far fewer cells visited.", 35),
    (12, "Strong induction vs. ordinary induction", "When do I need strong induction?",
     ("Strong induction assumes every case below k, useful when k depends on k/2 or on several earlier cases, "
      "as in the proof that every integer above 1 is a product of primes."),
     "When the step for $k + 1$ needs cases further back than $k$, such as factoring into primes.", 19),
    (40, "A positive test with 1% prevalence",
     ("A test is 99% accurate and 1% of people have the disease. I tested positive: what are the odds I have it?"),
     "Bayes: P(D|+) = 0.99·0.01 / (0.99·0.01 + 0.01·0.99) = 0.5.",
     "About **50%**: half the positives are false.", 28),
    (400, "Why is the sky blue?", "Why is the sky blue but sunsets red?",
     "Rayleigh scattering goes as 1/λ^4: blue scatters about 5.5 times more than red.",
     "Short wavelengths scatter more, so blue fills the sky; at sunset the long path leaves the reds.", 9),
]


def seed_history(path: Path) -> None:
    """Write HISTORY into a new history file, each thread as old as it says, with the
    thinking times and token counts a Phi-4-reasoning reply has."""
    start = time.time()
    now = [start]
    store = Store(path, clock=lambda: now[0])
    for i, (days, title, question, thinking, answer, seconds) in reversed(list(enumerate(HISTORY))):
        now[0] = start - days * DAY - i * 60
        thread = store.create_thread(title)
        asked = store.add_message(thread.id, None, "user", question)
        reply = store.add_message(thread.id, asked.id, "assistant", state="streaming")
        thought = len(thinking) * 8  # a real trace runs far longer than the excerpt kept here
        store.finish_message(reply.id, state="complete", content=answer, reasoning=thinking,
                             think_seconds=float(seconds), answer_seconds=6.0, generated_tokens=thought + 180,
                             reasoning_tokens=thought, finish_reason="stop")
    store.close()


def sandbox_manager(folder: Path) -> ModelManager:
    """The models' manager with the real catalog, its files in `folder`, and a hub at a
    closed local port: size lookups and downloads fail at once instead of going out."""
    folder.mkdir(parents=True, exist_ok=True)
    place = DownloadPlace(VerifiedStore(folder / "verified.json"), cache_dir=folder / "hf-cache",
                          endpoint="http://127.0.0.1:9")
    return ModelManager(load_catalog(), place, ImportedModels(folder / "models.json"), lmstudio=[])


class Tour:
    def __init__(self, app: QApplication, out: Path, root: Path) -> None:
        self.app, self.out, self.root = app, out, root
        self.count = 0
        self.broken = make_random_bytes(root / "Phi-4-reasoning-Q4_K_M.gguf", size=64 * 1024)

    def stage(self, dark: bool, width: int = 1200, height: int = 800, **kw) -> Stage:
        self.count += 1
        return Stage(self.app, dark, width, height, manager=sandbox_manager(self.root / f"models-{self.count}"), **kw)

    def save(self, widget, name: str, dark: bool) -> None:
        settle(self.app)
        path = self.out / f"{name}-{'dark' if dark else 'light'}.png"
        widget.grab().save(str(path))
        print(f"{path.name}: {widget.width()}x{widget.height()}", flush=True)

    # -- scenes: each builds its own window and closes it -----------------------------------

    def first_run(self, dark: bool) -> Stage:
        s = self.stage(dark, scripted=False)
        s.window.show_first_run()
        return s

    def model_loaded(self, dark: bool) -> Stage:
        s = self.stage(dark, scripted=False)
        s.load(smollm2_path())
        return s

    def _history(self, dark: bool, width: int = 1200, threads_open: bool = False) -> Stage:
        """The seeded history, its newest thread open, a Phi-4-reasoning file "loaded"."""
        s = self.stage(dark, width, seed=seed_history)
        if threads_open:
            s.window.sidebar.set_collapsed(False)  # opened by hand, past the width that folds it
        s.session.refresh_threads()
        s.session.select_thread(s.session.thread_model.thread_id(0))
        s.load()
        settle(self.app)
        s.window.chat.verticalScrollBar().setValue(0)  # from the question, as when reading it back
        return s

    def streaming(self, dark: bool) -> Stage:
        s = self._history(dark)
        engine = s.engines[-1]
        engine.script = FOLLOW_UP_REPLY
        s.gate = engine.gate = threading.Semaphore(0)
        s.session.send(FOLLOW_UP)
        s.gate.release(50)  # part way through the thinking
        reply = s.store.path(s.session.thread_id)[-1]
        wait(self.app, lambda: reply.id in s.window.chat.widgets
             and len(s.window.chat.widgets[reply.id].reasoning.text()) > 300)
        wait(self.app, lambda: False, 1.5)  # the live "Thinking… 1 s"
        return s

    def folded(self, dark: bool) -> Stage:
        return self._history(dark)

    def editing(self, dark: bool) -> Stage:
        s = self._history(dark)
        first = s.store.path(s.session.thread_id)[0]
        s.window.chat.edit_requested.emit(first.id)
        return s

    def threads_thinking_open(self, dark: bool) -> Stage:
        """The date groups again, with the reply's thinking opened: beside the answer when wide."""
        s = self._history(dark)
        reply = s.store.path(s.session.thread_id)[-1]
        s.window.chat.widgets[reply.id].reasoning.header.click()
        settle(self.app)
        s.window.chat.verticalScrollBar().setValue(0)
        return s

    def search(self, dark: bool) -> Stage:
        s = self._history(dark)
        s.window.search.setText("induction")
        wait(self.app, lambda: s.session.thread_model.rowCount() < len(HISTORY), 5)
        return s

    def models_dialog(self, dark: bool):
        s = self.stage(dark, scripted=False)
        s.window.models.manager.imported.add(smollm2_path())  # one of "your models"
        s.load(smollm2_path())
        return s, s.window.open_models()

    def settings_dialog(self, dark: bool):
        from app.ui.settings.settings_dialog import SettingsDialog

        s = self.stage(dark)
        dialog = SettingsDialog(s.session.settings.value, s.window)
        dialog.show()
        return s, dialog

    def failed_load(self, dark: bool) -> Stage:
        s = self.stage(dark, scripted=False)
        s.window.choose_model(self.broken)  # the remembered model, broken at start
        wait(self.app, lambda: s.window.banner.isVisible(), 60)
        return s

    def failed_load_kept(self, dark: bool) -> Stage:
        s = self.stage(dark, scripted=False)
        s.load(smollm2_path())
        s.window.choose_model(self.broken)
        wait(self.app, lambda: s.window.banner.isVisible(), 60)
        return s

    def narrow_800(self, dark: bool) -> Stage:
        return self._history(dark, 800, threads_open=True)

    def narrow_600(self, dark: bool) -> Stage:
        return self._history(dark, 600)

    def narrow_600_threads(self, dark: bool) -> Stage:
        return self._history(dark, 600, threads_open=True)

    def _on_server(self, dark: bool) -> Stage:
        """The seeded history and a saved connection, "gpu-box", to a vLLM stand-in that
        streams the follow-up's thinking and answer (it stops with the stage)."""
        import re

        from app.core.remote import connections
        from app.ui.dialogs import Dialogs
        from tests.core.remote.standin import StandIn

        connections.is_loopback = lambda url: False  # the stand-in is here; the picture is of a server elsewhere
        Dialogs.confirm = staticmethod(lambda *a: True)  # "send to gpu-box?": yes, once
        thinking, answer = FOLLOW_UP_REPLY[len("<think>"):].split("</think>")
        pieces = lambda text: re.findall(r"\S+\s*", text)  # noqa: E731 - one word per streamed piece
        server = StandIn(kind="vllm", reasoning_field="reasoning", reasoning=pieces(thinking), answer=pieces(answer),
                         model="microsoft/Phi-4-reasoning", n_ctx=32768, pace=0.01).__enter__()
        s = self._history(dark)
        close = s.close
        s.close = lambda: (close(), server.__exit__(None, None, None))
        saved = s.window.engines.connections
        saved.put(connections.Connection("gpu-box", server.url, kind="vllm", model=server.model),
                  replacing="gpu-box" if saved.get("gpu-box") else None)  # the tour's scenes share one home
        return s

    def remote_chat(self, dark: bool) -> Stage:
        s = self._on_server(dark)
        s.window.engines.choose("gpu-box")
        wait(self.app, lambda: s.session.models.remote is not None)
        s.window._send(FOLLOW_UP)
        wait(self.app, lambda: not s.session.busy)
        settle(self.app)
        return s

    def connections_dialog(self, dark: bool):
        s = self._on_server(dark)
        from app.ui.models.connections_dialog import ConnectionsDialog

        dialog = ConnectionsDialog(s.window.engines.connections, s.window, "gpu-box")
        dialog.show()
        dialog.test()
        wait(self.app, lambda: dialog.test_button.isEnabled())
        return s, dialog

    def _serving(self, dark: bool) -> Stage:
        """A model loaded, the local server on (port 8765 where it is free), and another app's
        streamed request being answered."""
        s = self.stage(dark)
        s.script = "<think>" + "Another app's question, thought through step by step. " * 4000 + "</think>Done."
        s.load()
        with socket.socket() as probe:
            port = 8765 if probe.connect_ex(("127.0.0.1", 8765)) != 0 else 0
        if not port:
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                port = free.getsockname()[1]
        s.session.settings.update(serve_enabled=True, serve_port=port)
        server = s.window.server

        def other_app() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.state.port, timeout=120)
                conn.request("POST", "/v1/chat/completions", json.dumps(
                    {"messages": [{"role": "user", "content": "Summarise this file."}], "stream": True}),
                    {"Content-Type": "application/json"})
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass  # cut when the scene's window closes

        threading.Thread(target=other_app, daemon=True).start()
        wait(self.app, lambda: server.state.running == 1, 20)
        return s

    def local_server(self, dark: bool):
        from app.ui.settings.settings_dialog import SettingsDialog

        s = self._serving(dark)
        dialog = SettingsDialog(s.session.settings.value, s.window, server=s.window.server, page="server")
        dialog.show()
        return s, dialog

    def local_server_status_bar(self, dark: bool) -> Stage:
        return self._serving(dark)

    def local_server_network(self, dark: bool):
        """The page as someone edits the address to every network: the warning before OK."""
        from app.ui.settings.settings_dialog import SettingsDialog

        s = self.stage(dark)
        dialog = SettingsDialog(s.session.settings.value.with_changes(serve_enabled=True), s.window, page="server",
                                server=s.window.server)
        dialog.server_page.host.setText("0.0.0.0")
        dialog.server_page.examples.setCurrentIndex(1)
        dialog.show()
        return s, dialog

    def gpu_800(self, dark: bool) -> Stage:
        """The bar as a machine with an 8 GB GPU shows it (this one may have none): the fit
        estimate for Phi-4's layers, the output layer moved off, Apply; 800 px, threads open."""
        from dataclasses import replace

        from app.core import hardware
        from app.ui.models import generation_worker
        from tests.core.test_fit import GIB, gpu, phi4_layout

        hw = gpu(8 * GIB)
        hw = replace(hw, devices=(replace(hw.devices[0], description="NVIDIA GeForce RTX 4070 Laptop GPU"),))
        saved = hardware.detect, generation_worker.read_layout
        hardware.detect, generation_worker.read_layout = (lambda: hw), (lambda path: phi4_layout())
        try:
            s = self._history(dark, 800, threads_open=True)
        finally:
            hardware.detect, generation_worker.read_layout = saved
        slider = s.window.offload.slider
        slider.setValue(slider.maximum() - 1)
        return s

    def thinking_controls(self, dark: bool) -> Stage:
        """A Normal budget chosen beside the composer; the header counts tokens of it, and the
        model, caught saying the same thing again and again, gets the repeat notice."""
        s = self._history(dark)
        engine = s.engines[-1]
        engine.script = "<think>Let me check the base case again. " + (
            "The sum of the first n odd numbers is n squared, so for n = 1 it is 1. ") * 80 + "</think>Yes."
        s.gate = engine.gate = threading.Semaphore(0)
        s.window.thinking_picker.choose("normal")
        s.session.send("Are you sure about the base case?")
        s.gate.release(320)
        wait(self.app, lambda: s.window.banner.text() != "", 20)
        wait(self.app, lambda: False, 0.6)
        return s

    def settings_cache(self, dark: bool):
        """Settings > Memory and disk, with two threads' prompts saved on disk (1.3 GB)."""
        from app.core.saved_states import MIN_TOKENS, StateKey, StateStore
        from app.ui.settings.settings_dialog import SettingsDialog

        s = self.stage(dark)
        states = StateStore(s.folder / "context-states")
        key = StateKey("/models/Phi-4-reasoning-Q4_K_M.gguf", 1, 1, 16384, "f16", "None", "tour")

        def sparse(size: int):
            def write(path: Path) -> bool:
                with open(path, "wb") as f:
                    f.truncate(size)  # a state's size without writing it
                return True
            return write

        for first, size in ((1, 520_000_000), (2, 780_000_000)):
            states.save(key, [first, *range(10, 10 + MIN_TOKENS)], size, sparse(size))
        dialog = SettingsDialog(s.session.settings.value, s.window, page="memory", states=states)
        dialog.show()
        wait(self.app, lambda: not dialog.saved_states.busy)
        return s, dialog

    def status_restored(self, dark: bool) -> Stage:
        """The status bar after a reply whose prompt was restored from disk: a thread asked with
        SmolLM2 (the test model) on the seeded history, the model loaded again (as after a
        restart: nothing left in memory), then asked again."""
        from app.core.saved_states import StateStore

        s = self.stage(dark, seed=seed_history, scripted=False)
        s.session.models.states = StateStore(s.folder / "context-states")
        s.session.settings.update(max_tokens=40, temperature=0.0, seed=1, context_size=4096, n_gpu_layers=0)
        s.session.refresh_threads()
        s.session.select_thread(s.session.thread_model.thread_id(0))
        for question in ("Does the same hold for even numbers?", "And for the first n squares?"):
            s.load(smollm2_path())
            s.session.send(question)
            wait(self.app, lambda: not s.session.busy, 120)
        settle(self.app)
        return s

SCENES = ["first_run", "model_loaded", "streaming", "folded", "editing", "threads_thinking_open", "search", "models_dialog",
          "settings_dialog", "failed_load", "failed_load_kept", "narrow_800", "narrow_600", "narrow_600_threads",
          "gpu_800", "remote_chat", "connections_dialog", "local_server", "local_server_status_bar",
          "local_server_network", "thinking_controls", "settings_cache", "status_restored"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="where the pictures go")
    ap.add_argument("--only", help="only the scenes whose name contains this")
    args = ap.parse_args()
    out = Path(args.folder)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PONDER_HOME"] = tmp  # settings, logs and records stay in here
        app = QApplication(sys.argv[:1])
        app.setStyle("Fusion")
        tour = Tour(app, out, Path(tmp))
        for n, name in enumerate(SCENES, 1):
            if args.only and args.only not in name:
                continue
            for dark in (False, True):
                made = getattr(tour, name)(dark)
                stage, shown = made if isinstance(made, tuple) else (made, made.window)
                try:
                    tour.save(shown, f"{n:02d}-{name.replace('_', '-')}", dark)
                finally:
                    if shown is not stage.window:
                        shown.close()
                    stage.close()


if __name__ == "__main__":
    main()
