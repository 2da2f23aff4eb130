"""`python -m app ask` end to end, in a subprocess, on the real SmolLM2 model."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from tests import model_files

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ]{4,30} "</think>" [A-Z] [a-z ]{2,20} "."'


def run_app(*args: str, limit_memory: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        preexec_fn=limit,
    )


def test_json_events_end_with_stats(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", GRAMMAR, "--json", "What is 2+2?")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "stats" and set(kinds[:-1]) <= {"reasoning", "answer", "progress", "rate"}
    assert "reasoning" in kinds and "answer" in kinds
    stats = events[-1]
    for key in ("prompt_tokens", "generated_tokens", "think_seconds", "answer_seconds", "tokens_per_second"):
        assert isinstance(stats[key], (int, float)), key
    assert stats["finish_reason"] == "stop"
    answer = "".join(e["text"] for e in events if e["kind"] == "answer")
    assert answer.strip().endswith(".") and "<" not in answer


def test_plain_output_splits_streams(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", GRAMMAR, "What is 2+2?")
    assert proc.returncode == 0, proc.stderr
    answer = proc.stdout.strip()
    assert answer[0].isupper() and answer.endswith(".")
    assert "finish: stop" in proc.stderr
    assert "\x1b[" not in proc.stderr  # not a terminal: no colour codes
    thinking = proc.stderr.split("[")[0].strip()
    assert thinking and thinking not in proc.stdout


def test_same_seed_same_output(smollm2):
    args = ("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "5", "--max-tokens", "20", "--json", "Hi")
    first, second = run_app(*args), run_app(*args)
    # Only the text: speed and stats events carry wall-clock time, so their count and
    # values differ between identical runs on a busy machine.
    text = lambda out: [l for l in out.splitlines() if '"kind": "reasoning"' in l or '"kind": "answer"' in l]  # noqa: E731
    assert text(first.stdout) and text(first.stdout) == text(second.stdout)


def test_bad_model_is_one_line_without_traceback(tmp_path):
    bad = model_files.make_random_bytes(tmp_path / "bad.gguf")
    proc = run_app("ask", "--model", str(bad), "hi")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr + proc.stdout


def test_missing_model_in_json_mode(tmp_path):
    proc = run_app("ask", "--model", str(tmp_path / "nope.gguf"), "--json", "hi")
    assert proc.returncode == 1
    event = json.loads(proc.stdout.strip())
    assert event["kind"] == "error" and event["type"] == "ModelMissing"


def test_context_overflow_exit_code(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "128", "--json", "hello " * 200)
    assert proc.returncode == 1
    event = json.loads(proc.stdout.strip())
    assert event["type"] == "ContextOverflow" and "context" in event["message"]


def test_out_of_memory_is_a_message_not_a_crash(smollm2):
    # A 1M-token KV cache (~22 GB) under a 4 GB address-space limit cannot be allocated.
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1000000", "hi", limit_memory=4 << 30)
    assert proc.returncode == 1, proc.stderr
    assert "Not enough memory" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_model_fixture_is_the_pinned_file(smollm2):
    assert model_files._sha256(smollm2) == model_files.SMOLLM2_SHA256


def test_auto_layers_follow_the_fit_estimate(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--n-gpu-layers", "auto", "--max-tokens", "4",
                   "--seed", "1", "--json", "Hi")
    assert proc.returncode == 0, proc.stderr
    import llama_cpp

    # This build's answer decides the label: CPU-only builds never claim GPU layers.
    label = next(line for line in proc.stderr.splitlines() if "layers on GPU" in line)
    assert label.startswith("0/31") if not llama_cpp.llama_supports_gpu_offload() else "/31 layers on GPU" in label
    assert json.loads(proc.stdout.splitlines()[-1])["kind"] == "stats"


def test_a_closed_pipe_ends_quietly():
    # `python -m app models list | head -1`: the reader leaves after one line.
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "app", "models", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in stderr
    assert proc.returncode in (0, 141)
