"""The window's local server, with a scripted engine behind the window's worker: off by
default, a busy port, the token for other computers, no model, the settings page, and
closing the window while a request is answered."""

from __future__ import annotations

import json
import socket
import threading

import openai
import pytest

from app.settings import Settings
from app.ui.serve.server_indicator import WINDOW_WAITS
from app.ui.settings.settings_dialog import SettingsDialog
from tests.ui.serve.conftest import WAIT, free_port, in_thread


def ask(c: openai.OpenAI, question: str = "hi") -> str:
    return c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": question}]
                                     ).choices[0].message.content


def listens(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_off_by_default_nothing_listens(make_app):
    app = make_app()
    app.load()
    port = free_port()
    app.settings.update(serve_port=port)  # a port chosen, the server still off
    assert not Settings().serve_enabled and not app.window.server.running
    assert not listens(port)
    assert not app.window.server_indicator.isVisible()
    assert app.window.server.state.line() == "Off: other apps cannot use the model."


def test_a_request_is_answered_by_the_windows_model_and_the_status_bar_says_the_server_is_on(make_app, serving):
    serve, client = serving
    app = make_app()
    app.load()
    server = serve(app)
    assert server.running and listens(server.state.port)
    indicator = app.window.server_indicator
    assert indicator.isVisible() and indicator.text() == f"Server on :{server.state.port}"
    assert ask(client(server)).startswith("There are **8** primes")
    assert len(app.engines) == 1  # the window's engine answered: no second one was made
    app.settings.update(serve_enabled=False)
    assert not server.running and not listens(server.state.port or 1) and not indicator.isVisible()


def test_a_busy_port_gets_a_sentence_and_another_port_works(make_app, serving):
    serve, client = serving
    app = make_app()
    app.load()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        server = serve(app, serve_port=port)
        assert not server.running
        assert server.state.error == (f"Port {port} is already in use by another program (or another Ponder), so "
                                      f"the server is off. Choose another port.")
        assert app.window.server_indicator.isVisible() and "Server off" in app.window.server_indicator.text()
        dialog = SettingsDialog(app.settings.value, app.window, server=server, page="server")
        assert dialog.pages.currentWidget() is dialog.server_page
        assert dialog.server_page.status.text() == server.state.error
        dialog.close()
    finally:
        taken.close()
    app.settings.update(serve_port=free_port())
    assert server.running and not server.state.error
    assert ask(client(server))


def test_without_a_model_other_apps_are_told_and_a_loaded_model_is_used_by_name(make_app, serving):
    serve, client = serving
    app = make_app()
    server = serve(app)
    c = client(server)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(c)
    assert caught.value.status_code == 503 and "No model is loaded in Ponder" in caught.value.message
    assert c.models.list().data == []
    app.load()
    assert [m.id for m in c.models.list().data] == ["scripted"]
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        app.models.load_model("/models/another.gguf")  # the window loads another model
    assert ask(c) and len(app.engines) == 2  # answered by the new one


def test_another_address_needs_the_token_shown_once_and_kept_in_the_keychain(make_app, serving, tokens_shown):
    serve, client = serving
    app = make_app()
    app.load()
    server = serve(app, serve_host="0.0.0.0")
    assert server.running and server.state.exposed
    assert len(tokens_shown) == 1 and len(tokens_shown[0]) >= 40
    token = tokens_shown[0]
    assert server._secrets().where("serve-token") == "keychain"
    indicator = app.window.server_indicator
    assert indicator.text() == f"Server open to the network on 0.0.0.0:{server.state.port}"
    assert indicator.property("warn") is True
    with pytest.raises(openai.AuthenticationError):
        ask(client(server))
    assert ask(client(server, token))
    app.settings.update(serve_enabled=False)
    app.settings.update(serve_enabled=True)  # started again: the kept token, not shown again
    assert len(tokens_shown) == 1 and ask(client(server, token))
    server.new_token()
    assert len(tokens_shown) == 2 and tokens_shown[1] != token
    with pytest.raises(openai.AuthenticationError):
        ask(client(server, token))
    assert ask(client(server, tokens_shown[1]))


def test_without_a_keychain_the_token_goes_to_a_file_only_if_the_person_agrees(make_app, serving, tokens_shown,
                                                                              monkeypatch, tmp_path):
    from keyring.backends import fail

    from app.core.secrets import SecretStore
    from app.ui.serve.serve_dialogs import ServeDialogs

    asked: list[str] = []
    monkeypatch.setattr(ServeDialogs, "keep_in_file", staticmethod(lambda parent, problem, path: asked.append(path)))
    _, client = serving
    app = make_app()
    app.load()
    app.window.server._store = store = SecretStore(tmp_path / "plain", fail.Keyring())
    app.settings.update(serve_enabled=True, serve_port=free_port(), serve_host="0.0.0.0")
    server = app.window.server
    assert asked == [str(store.file_path)] and store.where("serve-token") is None  # declined: no file
    assert server.running and ask(client(server, tokens_shown[0]))


def test_the_settings_page_shows_the_address_the_example_and_what_the_server_does(make_app, serving, qtbot):
    serve, client = serving
    app = make_app()
    app.gate = threading.Semaphore(0)  # each release lets one piece of a reply out
    app.load()
    server = serve(app)
    port = server.state.port
    dialog = SettingsDialog(app.settings.value, app.window, server=server)
    page = dialog.server_page
    assert page.enabled.isChecked() and page.url.text() == f"http://127.0.0.1:{port}/v1"
    assert f"curl http://127.0.0.1:{port}/v1/chat/completions" in page.curl.toPlainText()
    assert f'base_url="http://127.0.0.1:{port}/v1"' in page.python.toPlainText()
    compile(page.python.toPlainText(), "example", "exec")  # runs as pasted
    assert json.loads(page.curl.toPlainText().split("-d '", 1)[1].rstrip("'"))["messages"]
    assert not page.warning.isVisibleTo(page)
    assert page.status.text() == f"On at http://127.0.0.1:{port}/v1. No requests from other apps now."

    results: dict = {}
    first = in_thread(lambda: results.__setitem__("first", ask(client(server), "first")))
    qtbot.waitUntil(lambda: page.status.text().endswith("Serving 1 request from another app."), timeout=WAIT * 1000)
    second = in_thread(lambda: results.__setitem__("second", ask(client(server), "second")))
    qtbot.waitUntil(lambda: "Serving 1 request from another app; 1 waiting" in page.status.text(),
                    timeout=WAIT * 1000)
    assert "serving 1 request from another app; 1 waiting" in app.window.server_indicator.text()
    app.gate.release(1_000_000)
    first.join(WAIT)
    second.join(WAIT)
    qtbot.waitUntil(lambda: page.status.text().endswith("No requests from other apps now."), timeout=WAIT * 1000)
    assert results["first"] == results["second"] != ""

    page.host.setText("0.0.0.0")
    page.port.setValue(9100)
    page.origins.setText("http://localhost:3000 not-a-site")
    assert page.warning.isVisibleTo(page) and page.new_token_button.isVisibleTo(page)
    assert 'Authorization: Bearer $PONDER_TOKEN' in page.curl.toPlainText()
    assert "not-a-site" in page.origins_help.text()
    new = dialog.result_settings()
    assert (new.serve_host, new.serve_port, new.serve_cors_origins) == ("0.0.0.0", 9100, ("http://localhost:3000",))
    dialog.close()


def test_the_windows_send_waits_for_another_apps_request_and_says_so(make_app, serving, qtbot):
    serve, client = serving
    app = make_app()
    app.gate = threading.Semaphore(0)
    app.load()
    server = serve(app)
    results: dict = {}
    other = in_thread(lambda: results.__setitem__("other", ask(client(server), "from another app")))
    qtbot.waitUntil(lambda: server.state.running == 1, timeout=WAIT * 1000)
    assert app.session.send("from the window")
    assert server.state.window_waits
    assert app.window.statusBar().currentMessage() == WINDOW_WAITS
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=WAIT * 1000):
        app.gate.release(1_000_000)
    other.join(WAIT)
    assert results["other"].startswith("There are **8** primes")
    engine = app.engines[0]
    assert [r[-1].content for r in engine.requests] == ["from another app", "from the window"]
    assert app.store.path(app.session.thread_id)[-1].content.startswith("There are **8** primes")
    assert not server.state.window_waits and app.window.statusBar().currentMessage() != WINDOW_WAITS


def test_closing_the_window_cuts_a_request_being_answered(make_app, serving, qtbot):
    serve, client = serving
    app = make_app()
    app.gate = threading.Semaphore(0)
    app.load()
    server = serve(app)
    results: dict = {}

    def other() -> None:
        try:
            results["reply"] = ask(client(server))
        except openai.APIError as exc:
            results["error"] = exc

    thread = in_thread(other)
    qtbot.waitUntil(lambda: server.state.running == 1, timeout=WAIT * 1000)
    app.window.close()  # the gate is never released: only the cut frees the model's thread
    thread.join(WAIT)
    assert "error" in results and not server.running
    assert not app.models.running
    app.store.close()
