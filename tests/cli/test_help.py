"""`python -m app` as people expect of a Python tool: --help lists the commands and the window's
options, every option says its default, and a mistyped command or option is an error with a
suggestion, never a window that silently ignored it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import CLI_COMMANDS, cli, window_args
from app.help_format import did_you_mean, help_with_default

ROOT = Path(__file__).resolve().parents[2]


def run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A real `python -m app` on Qt's offscreen platform: a window that opened would run until
    the timeout, and would write its start to the log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    # COLUMNS: argparse wraps to the terminal, so a wide one keeps each option's help on one line
    env.update(PONDER_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def no_window_started(tmp_path: Path) -> bool:
    log = tmp_path / "home" / "log" / "ponder.log"
    return not log.exists() or "starting" not in log.read_text(encoding="utf-8")


def test_help_lists_the_commands_and_the_window_options(tmp_path):
    proc = run_app(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    for name, summary in CLI_COMMANDS.items():
        assert f"  {name}  " in proc.stdout and summary in proc.stdout
    for option in ("--model PATH", "--self-test", "--screenshot PNG", "--version"):
        assert option in proc.stdout
    assert "--measure-start" not in proc.stdout  # the benchmark's, not people's
    assert "(default: the model the window loaded last)" in proc.stdout
    assert no_window_started(tmp_path)


@pytest.mark.parametrize("argv, expected", [
    (["askk", "hi"], "unknown command 'askk' (did you mean 'ask'?)"),
    (["foo"], "unknown command 'foo'."),
    (["thread", "list"], "unknown command 'thread' (did you mean 'threads'?)"),
    (["--modle", "m.gguf"], "unknown option '--modle' (did you mean '--model'?)"),
    (["--self-test", "extra"], "unexpected argument 'extra'"),
])
def test_a_mistake_is_an_error_not_a_window(tmp_path, argv, expected):
    proc = run_app(tmp_path, *argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert "ask, models, threads" in proc.stderr or "option" in expected
    assert "Traceback" not in proc.stderr and no_window_started(tmp_path)


@pytest.mark.parametrize("argv, option", [
    (["ask", "--help"], "--temperature T"),
    (["ask", "--help"], "--n-gpu-layers N"),
    (["models", "download", "--help"], "--quant QUANT"),
    (["threads", "list", "--help"], "--search TEXT"),
])
def test_command_help_shows_defaults(tmp_path, argv, option):
    proc = run_app(tmp_path, *argv)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.strip().startswith(option))
    assert "(default: " in line, line


def test_the_version(tmp_path):
    from app import APP_NAME, __version__

    proc = run_app(tmp_path, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"{APP_NAME} {__version__}"


def parsers(parser: argparse.ArgumentParser):
    """The parser and every subparser below it."""
    yield parser
    for action in parser._actions:  # argparse lists subparsers nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_every_option_has_help_that_says_its_default():
    missing = []
    for parser in [*parsers(cli.build_parser()), window_args.build_parser()]:
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            text = help_with_default(action)
            flag = action.nargs == 0  # --json, --help: off unless given
            if not text or not (flag or "(default" in text or action.default == []):
                missing.append(f"{parser.prog} {action.option_strings[0]}: {text!r}")
    assert missing == []


def test_qt_options_and_files_from_the_desktop_still_reach_the_window(tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text("x")
    args, rest = window_args.parse(["-style", "fusion", "--model", "m.gguf", "--platform=offscreen", "-reverse",
                                    str(doc)])
    assert args.model == "m.gguf" and not args.self_test
    assert rest == ["-style", "fusion", "--platform=offscreen", "-reverse", str(doc)]
    assert window_args.parse([str(doc)])[1] == [str(doc)]  # "Exec=ponder %F" with a file


def test_suggestions():
    assert did_you_mean("modles", CLI_COMMANDS) == " (did you mean 'models'?)"
    assert did_you_mean("zzz", CLI_COMMANDS) == ""
