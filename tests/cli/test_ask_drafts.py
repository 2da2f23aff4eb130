"""`ask --no-drafts` on the real SmolLM2 model: no drafts verified, the same greedy reply."""

from __future__ import annotations

import json

from tests.cli.test_ask import run_app

QUESTION = "Repeat exactly: the lamp burned whale oil until 1902, then kerosene, then an electric bulb."


def reply_and_stats(proc) -> tuple[str, dict]:
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["kind"] == "stats"
    return "".join(e.get("text", "") for e in events[:-1]), events[-1]


def test_no_drafts_verifies_none_and_keeps_the_greedy_reply(smollm2):
    # One thread: llama.cpp's batch logits then equal one-at-a-time logits bit for bit.
    common = ("ask", "--model", str(smollm2), "--ctx", "1024", "--cpu-threads", "1", "--temperature", "0",
              "--max-tokens", "40", "--json", QUESTION)
    without, stats = reply_and_stats(run_app(*common[:-2], "--no-drafts", *common[-2:]))
    assert (stats["draft_tokens"], stats["draft_accepted"], stats["draft_speedup"]) == (0, 0, 1.0)
    with_drafts, stats = reply_and_stats(run_app(*common))
    assert with_drafts == without and "draft_tokens" in stats
