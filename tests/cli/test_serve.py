"""`python -m app serve` in a subprocess: it serves the real SmolLM2 model on 127.0.0.1,
stops cleanly on Ctrl+C, and refuses unsafe addresses before listening."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import openai

from tests.cli.test_ask import run_app


def start_serve(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or os.environ.copy())
    line = proc.stderr.readline()  # "Serving NAME (...) at URL ..." once it listens
    match = re.search(r"at (http://\S+/v1)", line)
    if match is None:
        proc.kill()
        _, err = proc.communicate(timeout=60)
        raise AssertionError(f"no address in {line!r}: {err}")
    return proc, match.group(1)


def test_serves_until_ctrl_c_then_exits_cleanly(smollm2):
    proc, url = start_serve("--model", str(smollm2), "--port", "0", "--ctx", "1024")
    try:
        assert url.startswith("http://127.0.0.1:")
        with openai.OpenAI(base_url=url, api_key="unused", max_retries=0) as c:
            reply = c.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1",
                                              messages=[{"role": "user", "content": "Hi"}], max_tokens=4, seed=1)
        assert reply.choices[0].message.content and reply.usage.completion_tokens == 4
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip().endswith("Stopped.") and "Traceback" not in err


def test_a_token_from_the_environment_is_required(smollm2):
    env = dict(os.environ, PONDER_TEST_TOKEN="tok-123")
    proc, url = start_serve("--model", str(smollm2), "--port", "0", "--ctx", "512", "--token-env",
                            "PONDER_TEST_TOKEN", env=env)
    try:
        with openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as c:
            try:
                c.models.list()
                raise AssertionError("a wrong token was accepted")
            except openai.AuthenticationError:
                pass
        with openai.OpenAI(base_url=url, api_key="tok-123", max_retries=0) as c:
            assert [m.id for m in c.models.list().data] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_a_non_loopback_address_without_a_token_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PONDER_TEST_UNSET"}
    proc = subprocess.run([sys.executable, "-m", "app", "serve", "--model", str(tmp_path / "m.gguf"), "--host",
                           "0.0.0.0", "--token-env", "PONDER_TEST_UNSET"], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: The environment variable PONDER_TEST_UNSET is empty or not set")
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_a_missing_model_is_one_line():
    proc = run_app("serve", "--model", "/nonexistent/model.gguf", "--port", "0")
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
