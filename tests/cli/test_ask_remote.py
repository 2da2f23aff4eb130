"""`ask --engine URL` and `engines test URL`, end to end in a subprocess, against a
stand-in server (tests/core/remote/standin.py) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.remote.standin import ANSWER, REASONING, StandIn

ROOT = Path(__file__).resolve().parents[2]


def run_app(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PONDER_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", **env)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("kind, field", [("llama.cpp", "reasoning_content"), ("ollama", "thinking")])
def test_ask_engine_json_gives_the_local_engines_events(tmp_path, kind, field):
    with StandIn(kind=kind, reasoning_field=field) as s:
        proc = run_app(tmp_path, "ask", "--engine", s.url, "--json", "--seed", "3", "What is 2+2?")
        chat = s.chat_requests()[-1].body
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "stats" and set(kinds[:-1]) <= {"progress", "reasoning", "answer", "rate"}
    assert "".join(e["text"] for e in events if e["kind"] == "reasoning") == "".join(REASONING)
    assert "".join(e["text"] for e in events if e["kind"] == "answer") == "".join(ANSWER)
    stats = events[-1]
    assert stats["finish_reason"] == "stop" and stats["template"] == "server"
    assert stats["counts_estimated"] is False and stats["generated_tokens"] == len(REASONING) + len(ANSWER)
    assert chat["messages"][-1] == {"role": "user", "content": "What is 2+2?"}
    assert (chat["options"]["seed"] if kind == "ollama" else chat["seed"]) == 3


def test_ask_engine_plain_output_and_a_server_error(tmp_path):
    with StandIn() as s:
        proc = run_app(tmp_path, "ask", "--engine", s.url, "What is 2+2?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "".join(ANSWER) and "finish: stop" in proc.stderr
    with StandIn(fault="status", status=(503, '{"error": {"message": "Loading model"}}', {})) as s:
        proc = run_app(tmp_path, "ask", "--engine", s.url, "What is 2+2?")
    assert proc.returncode == 1
    assert "error: http://127.0.0.1" in proc.stderr and "HTTP 503" in proc.stderr and "Loading model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ask_engine_keeps_the_reply_in_a_thread(tmp_path):
    with StandIn(kind="vllm", reasoning_field="reasoning") as s:
        first = run_app(tmp_path, "ask", "--engine", s.url, "--thread", "new", "--json", "What is 2+2?")
        thread = next(json.loads(line)["id"] for line in first.stdout.splitlines() if '"thread"' in line)
        second = run_app(tmp_path, "ask", "--engine", s.url, "--thread", str(thread), "--json", "And 3+3?")
        history = s.chat_requests()[-1].body["messages"]
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert [m["role"] for m in history][-3:] == ["user", "assistant", "user"]
    assert history[-2]["content"] == "".join(ANSWER)  # the earlier answer, without its thinking


def test_model_and_engine_together_are_refused(tmp_path):
    proc = run_app(tmp_path, "ask", "--engine", "http://127.0.0.1:9", "--model", "x.gguf", "hi")
    assert proc.returncode == 1 and "either --model" in proc.stderr


def test_engines_test_reports_the_server(tmp_path):
    with StandIn(kind="vllm") as s:
        proc = run_app(tmp_path, "engines", "test", s.url + "/v1", "--json")
        plain = run_app(tmp_path, "engines", "test", s.url)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["kind"] == "vllm" and report["models"] == [s.model]
    assert report["context_size"] == s.n_ctx and report["context_known"] and not report["counts_estimated"]
    assert report["latency_ms"] >= 0 and report["supports_answer_now"] is False
    assert plain.returncode == 0 and "server:     vLLM 0.11.0 at http://127.0.0.1" in plain.stdout
    assert "context:    4,096 tokens" in plain.stdout


def test_engines_test_with_a_key_from_the_named_variable(tmp_path):
    with StandIn(api_key="sk-box") as s:
        refused = run_app(tmp_path, "engines", "test", s.url, "--json")
        opened = run_app(tmp_path, "engines", "test", s.url, "--api-key-env", "BOX_KEY", "--json", BOX_KEY="sk-box")
    assert refused.returncode == 1 and json.loads(refused.stdout)["type"] == "AuthRejected"
    assert opened.returncode == 0 and json.loads(opened.stdout)["supports_answer_now"] is True
    assert "sk-box" not in opened.stdout + opened.stderr
    log = (tmp_path / "home" / "log" / "ponder.log").read_text(encoding="utf-8")
    assert "HTTP Request" in log and "sk-box" not in log
