"""`ask --engine URL` and `engines test URL` in a subprocess, through a real llama-server
whose layers live on two RPC servers on 127.0.0.1 (tests/llama_servers.py)."""

from __future__ import annotations

import json

from tests.cli.test_ask_remote import run_app

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ,]{10,60} "</think>" [A-Z] [a-z ,]{5,40} "."'


def test_ask_through_the_distributed_server_prints_thinking_and_answer(tmp_path, llama_cluster):
    proc = run_app(tmp_path, "ask", "--engine", llama_cluster.url, "--json", "--seed", "1", "--temperature", "0",
                   "--max-tokens", "96", "--grammar", GRAMMAR, "What is two plus two?")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "stats" and set(kinds[:-1]) <= {"progress", "reasoning", "answer", "rate"}
    reasoning = "".join(e["text"] for e in events if e["kind"] == "reasoning")
    answer = "".join(e["text"] for e in events if e["kind"] == "answer")
    assert reasoning and answer and "<think>" not in reasoning + answer and "</think>" not in answer
    assert kinds.index("reasoning") < kinds.index("answer")
    stats = events[-1]
    assert stats["finish_reason"] == "stop" and stats["template"] == "server" and not stats["counts_estimated"]
    assert 0 < stats["reasoning_tokens"] < stats["generated_tokens"] and stats["context_size"] == 2048


def test_engines_test_describes_the_distributed_server(tmp_path, llama_cluster):
    proc = run_app(tmp_path, "engines", "test", llama_cluster.url, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["kind"] == "llama.cpp" and report["version"]
    assert report["context_size"] == 2048 and report["context_known"] and not report["counts_estimated"]
    assert report["models"] and report["model"] == report["models"][0]
    # This build has POST /v1/chat/completions/control.
    assert report["supports_answer_now"] is True
