"""Choosing what answers in the window: this computer or a saved connection, through real
HTTP streams from stand-in servers on 127.0.0.1 (tests/core/remote/standin.py)."""

from __future__ import annotations

import pytest

from app.core.remote.connections import Connection
from app.ui.dialogs import Dialogs
from tests.core.remote.standin import ANSWER, REASONING, StandIn

WAIT_MS = 20_000


class Asked(list):
    """Every confirmation the window asked for, answered with `answer`."""

    answer = True


@pytest.fixture
def asked(monkeypatch) -> Asked:
    questions = Asked()

    def confirm(parent, title, question, action):
        questions.append(question)
        return questions.answer

    monkeypatch.setattr(Dialogs, "confirm", staticmethod(confirm))
    return questions


@pytest.fixture
def elsewhere(monkeypatch):
    """The stand-ins listen on 127.0.0.1; here they count as another computer."""
    monkeypatch.setattr("app.core.remote.connections.is_loopback", lambda url: False)


def choose(app, name: str | None) -> None:
    front = app.window.engines
    if name is None:
        with app.qtbot.waitSignal(app.models.engine_changed, timeout=WAIT_MS):
            assert front.choose(None)
        return
    with app.qtbot.waitSignal(app.models.model_changed, timeout=WAIT_MS,
                              check_params_cb=lambda state, _text: state != "loading"):
        assert front.choose(name)


def send(app, text: str) -> None:
    with app.qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=WAIT_MS):
        app.window.composer.setPlainText(text)
        app.window._send(text)


def test_a_connection_answers_with_the_badge_shown_and_sending_asked_once(make_app, asked, elsewhere):
    app = make_app()
    with StandIn(kind="vllm", reasoning_field="reasoning") as s:
        app.window.engines.connections.put(Connection("gpu-box", s.url))
        choose(app, "gpu-box")
        bar = app.window.model_bar
        assert app.models.model_ready and app.models.remote.server == "vLLM"
        assert bar.engine_button.text() == "gpu-box" and bar.badge.isVisibleTo(app.window)
        assert bar.badge.text() == f"Remote: 127.0.0.1:{s.port}, vLLM"
        assert app.window.model_label.text() == f"Model: {s.model}"
        assert not app.window.offload.isVisibleTo(app.window)
        tip = app.window.answer_now_button.toolTip()
        assert "vLLM" in tip and "cannot end the thinking early" in tip

        app.session.new_thread()
        send(app, "What is 2+2?")
        send(app, "And 3+3?")
        assert len(asked) == 1 and "gpu-box" in asked[0] and "another computer" in asked[0]
        assert len(s.chat_requests()) == 2
    reply = app.session.conversation.path()[-1]
    assert reply.state == "complete" and reply.content == "".join(ANSWER) and reply.reasoning == "".join(REASONING)
    widget = app.window.chat.widgets[reply.id]
    assert widget.answer.toPlainText().strip() == "The answer is 4."
    assert app.window.engines.connections.get("gpu-box").sending_allowed  # remembered in the record
    assert app.session.thread_engine(app.session.thread_id) == "gpu-box"


def test_declining_sends_nothing_and_keeps_the_question(make_app, asked, elsewhere):
    app = make_app()
    asked.answer = False
    with StandIn(kind="llama.cpp") as s:
        app.window.engines.connections.put(Connection("box", s.url))
        choose(app, "box")
        app.window.composer.setPlainText("Secret plans?")
        app.window._send("Secret plans?")
        assert s.chat_requests() == [] and not app.session.busy
    assert app.window.composer.toPlainText() == "Secret plans?" and len(asked) == 1
    assert not app.window.engines.connections.get("box").sending_allowed


def test_a_server_on_this_computer_is_not_asked_about_and_answer_now_works_there(make_app, asked):
    app = make_app()
    with StandIn(kind="llama.cpp") as s:
        app.window.engines.connections.put(Connection("here", s.url))
        choose(app, "here")
        assert app.window.model_bar.badge.text().startswith("Local server: 127.0.0.1:")
        assert app.window.engines.answer_now_problem() is None
        assert app.window.answer_now_button.toolTip().startswith("Stop thinking")
        app.session.new_thread()
        send(app, "What is 2+2?")
    assert asked == []


def test_each_thread_keeps_its_engine_and_this_computer_keeps_its_model(make_app, asked, elsewhere):
    app = make_app()
    app.load()
    local_path = app.settings.value.model_path
    with StandIn(kind="ollama", reasoning_field="thinking") as s:
        app.window.engines.connections.put(Connection("box", s.url))
        remote_thread = app.session.new_thread()
        choose(app, "box")
        send(app, "What is 2+2?")
        assert app.window.context_meter.text().startswith("~")  # Ollama's counts are estimates
        assert "estimates" in app.window.context_meter.toolTip()
        local_thread = app.session.new_thread()  # a new thread follows what answers now...
        choose(app, None)  # ...until this one chooses this computer
        assert app.window.model_bar.engine_button.text() == "This computer"
        assert not app.window.model_bar.badge.isVisibleTo(app.window)
        assert app.window.model_label.text() == "Model: scripted"
        send(app, "Local question")
        assert len(app.engines[-1].requests) == 1  # the scripted local model answered
        assert len(s.chat_requests()) == 1

        with app.qtbot.waitSignal(app.models.model_changed, timeout=WAIT_MS,
                                  check_params_cb=lambda state, _t: state == "ready"):
            app.session.select_thread(remote_thread)
        assert app.models.remote.connection == "box" and app.window.model_bar.badge.isVisibleTo(app.window)
        with app.qtbot.waitSignal(app.models.engine_changed, timeout=WAIT_MS):
            app.session.select_thread(local_thread)
        assert not app.models.on_server and app.models.model_ready
    assert app.settings.value.model_path == local_path
    assert len(app.engines) == 1  # the local model stayed loaded all along


def test_a_thread_whose_connection_was_removed_falls_back_with_a_notice(make_app, asked, elsewhere):
    app = make_app()
    app.load()
    with StandIn(kind="vllm") as s:
        conns = app.window.engines.connections
        conns.put(Connection("box", s.url))
        remote_thread = app.session.new_thread()
        choose(app, "box")
        send(app, "What is 2+2?")
        other = app.session.new_thread()
        choose(app, None)
        conns.remove("box")
        app.session.select_thread(remote_thread)
        assert "box, which is no longer saved" in app.window.banner.text()
        assert not app.models.on_server and app.models.model_ready
        assert app.session.thread_engine(remote_thread) == "" and app.session.thread_engine(other) == ""


def test_renaming_a_connection_moves_every_thread_that_used_it(make_app, asked, elsewhere):
    app = make_app()
    app.load()
    with StandIn(kind="vllm") as s:
        conns = app.window.engines.connections
        conns.put(Connection("box", s.url))
        first = app.session.new_thread()
        choose(app, "box")
        send(app, "What is 2+2?")
        second = app.session.new_thread()
        send(app, "And 3+3?")
        elsewhere_thread = app.session.new_thread()
        choose(app, None)
        assert app.session.thread_engine(first) == app.session.thread_engine(second) == "box"
        conns.put(Connection("gpu-box", s.url), replacing="box")
        app.window.engines._edited("box", "gpu-box")  # what the dialog reports after a rename
        assert app.session.thread_engine(first) == app.session.thread_engine(second) == "gpu-box"
        assert app.session.thread_engine(elsewhere_thread) == ""
        with app.qtbot.waitSignal(app.models.model_changed, timeout=WAIT_MS,
                                  check_params_cb=lambda state, _t: state == "ready"):
            app.session.select_thread(first)
        assert app.models.remote.connection == "gpu-box"
        assert "no longer saved" not in app.window.banner.text()


def test_a_server_that_cannot_be_reached_is_a_notice_and_this_computer_answers(make_app, asked):
    app = make_app()
    app.load()
    app.window.engines.connections.put(Connection("down", "http://127.0.0.1:9"))
    with app.qtbot.waitSignal(app.models.remote_failed, timeout=WAIT_MS):
        app.window.engines.choose("down")
    banner = app.window.banner
    assert banner.text().startswith("down cannot be used: ") and "This computer answers for now" in banner.text()
    assert banner.action_labels() == ["Try again", "Connections…"]
    assert app.window.model_bar.engine_button.text() == "This computer"
    assert app.models.model_ready and not app.models.on_server
    assert app.window.model_label.text() == "Model: scripted"


def test_a_server_error_mid_reply_keeps_the_text_so_far(make_app, asked):
    app = make_app()
    with StandIn(kind="llama.cpp", fault="cut", after=2) as s:
        app.window.engines.connections.put(Connection("flaky", s.url))
        choose(app, "flaky")
        app.session.new_thread()
        send(app, "What is 2+2?")
    reply = app.session.conversation.path()[-1]
    assert reply.state == "error" and reply.reasoning  # what came is kept
    assert "lost in the middle of the reply; the text so far is kept" in reply.error
    assert app.models.model_ready  # the connection is still chosen; the next send tries again


def test_load_settings_changed_while_a_server_answers_apply_when_this_computer_does_again(make_app, asked):
    app = make_app()
    app.load()
    with StandIn(kind="llama.cpp") as s:
        app.window.engines.connections.put(Connection("box", s.url))
        choose(app, "box")
        app.settings.update(context_size=2048)
        assert len(app.engines) == 1 and app.models.on_server  # the local model is not reloaded behind the server
        with app.qtbot.waitSignal(app.models.model_changed, timeout=WAIT_MS,
                                  check_params_cb=lambda state, _t: state == "ready"):
            choose(app, None)
    assert len(app.engines) == 2 and app.settings.value.context_size == 2048
    assert app.window.model_label.text() == "Model: scripted"
