"""`ask` keeps a thread's read prompt on disk, in the window's folder, so continuing the thread
later loads it instead of reading it again; --no-saved-states reads everything and keeps nothing."""

from __future__ import annotations

import json

from app import paths
from app.context_states import FOLDER
from app.core.saved_states import MIN_TOKENS
from tests.cli.test_ask import run_app


def stats_of(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()][-1]


def state_files() -> list[str]:
    folder = paths.cache_dir() / FOLDER
    return sorted(p.name for p in folder.glob("*.state")) if folder.is_dir() else []


def test_a_continued_thread_restores_its_prompt_unless_told_not_to(smollm2):
    common = ("--model", str(smollm2), "--ctx", "2048", "--seed", "3", "--max-tokens", "24", "--json")
    question = ("Here is a short note from a garden diary. The roses by the gate opened on Monday, two weeks "
                "late because of the cold spring. The tomatoes in the greenhouse have their first green fruit, and "
                "the beans along the fence are climbing fast. Slugs ate most of the lettuce again, so next year the "
                "lettuce goes in raised beds. Which plant had trouble, and what will change next year?")
    first = stats_of(run_app("ask", *common, "--thread", "new", question))
    assert first["restored_prompt_tokens"] == 0 and first["prompt_tokens"] >= MIN_TOKENS  # the long system prompt
    assert len(state_files()) == 1  # kept as the command ended

    plain = run_app("ask", *common[:-1], "--thread", "1", "--no-saved-states", "And three fruits?")
    assert plain.returncode == 0, plain.stderr
    assert "restored" not in plain.stderr and len(state_files()) == 1  # neither loaded nor saved

    again = stats_of(run_app("ask", *common, "--thread", "1", "And three fruits?"))
    assert again["restored_prompt_tokens"] >= MIN_TOKENS and again["restore_seconds"] > 0
    assert again["evaluated_prompt_tokens"] < again["prompt_tokens"] - MIN_TOKENS


def test_the_option_is_on_ask_and_serve():
    from app import cli

    parser = cli.build_parser()
    for command in (["ask", "hi"], ["serve"]):
        assert parser.parse_args([*command, "--no-saved-states"]).no_saved_states is True
        assert parser.parse_args(command).no_saved_states is False
