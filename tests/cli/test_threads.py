"""`ask --thread` and `threads list|show|export`: the window's history from a terminal,
through the same conversation core."""

from __future__ import annotations

import json
import pytest

from app import cli, paths
from app.settings import Settings
from tests.cli.test_ask import GRAMMAR, run_app


from tests.cli.recording_engine import RecordingEngine


def test_ask_thread_new_then_continue_and_read_back(smollm2, app_home):
    common = ("--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", GRAMMAR, "--json")
    first = run_app("ask", *common, "--thread", "new", "What is 2+2?")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    thread_id = next(e["id"] for e in events if e["kind"] == "thread")
    second = run_app("ask", *common, "--thread", str(thread_id), "And 3+3?")
    assert second.returncode == 0, second.stderr

    listed = json.loads(run_app("threads", "list", "--json").stdout)
    assert [(t["id"], t["title"]) for t in listed] == [(thread_id, "What is 2+2?")]
    shown = json.loads(run_app("threads", "show", str(thread_id), "--json").stdout)
    roles = [(m["role"], m["state"]) for m in shown["messages"]]
    assert roles == [("user", "complete"), ("assistant", "complete")] * 2
    assert all(m["reasoning"] and m["content"] for m in shown["messages"] if m["role"] == "assistant")
    plain = run_app("threads", "show", str(thread_id)).stdout
    assert "<thinking>" in plain and "And 3+3?" in plain
    exported = run_app("threads", "export", str(thread_id)).stdout
    assert exported.startswith("# What is 2+2?") and "<details>" in exported and "And 3+3?" in exported


@pytest.mark.parametrize("args, message", [
    (("--thread", "999"), "no thread 999"),
    (("--thread", "abc"), "not a thread id"),
])
def test_a_bad_thread_is_one_readable_line(args, message, app_home):
    proc = run_app("ask", "--model", "missing.gguf", *args, "Hi")
    assert proc.returncode == 1 and message in proc.stderr.lower() and "Traceback" not in proc.stderr
    shown = run_app("threads", "show", "999")
    assert shown.returncode == 1 and "no thread 999" in shown.stderr.lower()


def test_thread_is_never_read_as_cpu_threads():
    parser = cli.build_parser()
    args = parser.parse_args(["ask", "--model", "m.gguf", "--thread", "3", "q"])
    assert args.thread == "3" and args.cpu_threads is None
    args = parser.parse_args(["ask", "--model", "m.gguf", "--cpu-threads", "4", "q"])
    assert args.cpu_threads == 4 and args.thread is None
    for abbreviated in (["--thr", "3"], ["--cpu", "4"], ["--threads", "4"]):  # no prefixes, no old name
        with pytest.raises(SystemExit):
            parser.parse_args(["ask", "--model", "m.gguf", *abbreviated, "q"])


def test_ask_uses_the_settings_system_prompt(monkeypatch):
    from app.settings import save_settings

    save_settings(paths.config_dir(), Settings(system_prompt="Only say yes."))
    monkeypatch.setattr(cli, "LlamaEngine", RecordingEngine)
    RecordingEngine.made.clear()
    assert cli.main(["ask", "--model", "m.gguf", "Question?"]) == 0
    assert RecordingEngine.made[-1].requests[-1][0].content == "Only say yes."
