"""Headless commands: the same core as the GUI, from a terminal.

    python -m app ask --model PATH [--doc FILE ...] [options] "question"

Reasoning goes to stderr (dimmed on a terminal), the answer to stdout; with --json,
one JSON object per event on stdout, the stats last.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from app import CLI_COMMANDS, cli_docs, cli_models
from app.core.engine import LlamaEngine, LoadParams
from app.core.errors import AppError
from app.core.fit import AUTO_LAYERS, plan_load
from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT, with_system_prompt
from app.core.types import GenParams, Message

DIM, RESET = "\x1b[2m", "\x1b[0m"
COMMANDS = CLI_COMMANDS
_DEFAULTS = GenParams()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Ask a local reasoning model.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="ask one question and stream the reply")
    ask.add_argument("question")
    ask.add_argument("--model", required=True, type=Path, help="path to a .gguf file")
    ask.add_argument("--n-gpu-layers", type=_layers, default=0,
                     help="layers on the GPU: a number, -1 for all, or 'auto' for the most that fit")
    ask.add_argument("--ctx", type=int, default=0, help="context size in tokens (default: model's, at most 16384)")
    ask.add_argument("--max-tokens", type=int, default=_DEFAULTS.max_tokens)
    ask.add_argument("--temperature", type=float, default=_DEFAULTS.temperature)
    ask.add_argument("--top-p", type=float, default=_DEFAULTS.top_p)
    ask.add_argument("--top-k", type=int, default=_DEFAULTS.top_k)
    ask.add_argument("--seed", type=int, default=None)
    ask.add_argument("--threads", type=int, default=None)
    ask.add_argument("--system", default=None, help="system prompt (default: Phi-4-reasoning's)")
    ask.add_argument("--grammar", default=None, help="GBNF grammar text, or @FILE")
    ask.add_argument("--json", action="store_true", help="one JSON object per event")
    cli_docs.add_arguments(ask)
    cli_models.add_parser(sub)
    return parser


def _layers(value: str) -> int:
    if value.lower() == "auto":
        return AUTO_LAYERS
    return int(value)


def _resolve_layers(model: Path, requested: int, n_ctx: int) -> int:
    """'auto' becomes the most layers the fit estimate says fit on this machine."""
    if requested != AUTO_LAYERS:
        return requested
    from app.core.context_rules import default_context
    from app.core.gguf_info import read_layout
    from app.core.hardware import detect

    layout = read_layout(model)
    ctx = default_context(layout.context_length, n_ctx)
    plan = plan_load(layout, detect(), ctx, requested)
    sys.stderr.write(f"{plan.estimate().label()}\n")
    return plan.n_gpu_layers


def _grammar(value: str | None) -> str | None:
    if value and value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value


class _Printer:
    """Writes events as plain text (reasoning on stderr, answer on stdout) or JSON lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.dim = sys.stderr.isatty()
        self._in_reasoning = False

    def event(self, ev) -> None:
        if self.as_json:
            print(json.dumps(ev.to_json(), ensure_ascii=False), flush=True)
            return
        if ev.kind == "reasoning":
            if ev.moves_answer:
                sys.stderr.write("\n[the text above was the model's thinking]\n")
            self._reason(ev.text)
        elif ev.kind == "answer":
            self._end_reasoning()
            sys.stdout.write(ev.text)
            sys.stdout.flush()
        elif ev.kind == "error":
            self._end_reasoning()
            sys.stderr.write(f"error: {ev.message}\n")
        elif ev.kind == "stats":
            self._end_reasoning()
            s = ev.stats
            sys.stdout.write("\n")
            sys.stderr.write(
                f"[{s.generated_tokens} tokens, {s.tokens_per_second} tok/s, thought {s.think_seconds:.1f} s, "
                f"finish: {s.finish_reason}]\n"
            )

    def _reason(self, text: str) -> None:
        if not self._in_reasoning and self.dim:
            sys.stderr.write(DIM)
        self._in_reasoning = True
        sys.stderr.write(text)
        sys.stderr.flush()

    def _end_reasoning(self) -> None:
        if self._in_reasoning:
            sys.stderr.write((RESET if self.dim else "") + "\n")
            self._in_reasoning = False

    def error(self, exc: AppError) -> None:
        if self.as_json:
            print(json.dumps({"kind": "error", "message": exc.user_message, "type": type(exc).__name__}), flush=True)
        sys.stderr.write(f"error: {exc.user_message}\n")


def ask(args: argparse.Namespace) -> int:
    printer = _Printer(args.json)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        params = GenParams(
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=args.top_k,
            max_tokens=args.max_tokens,
            seed=args.seed,
            grammar=_grammar(args.grammar),
        )
        layers = _resolve_layers(args.model, args.n_gpu_layers, args.ctx)
        load = LoadParams(n_gpu_layers=layers, n_ctx=args.ctx, n_threads=args.threads)
        system = PHI4_REASONING_SYSTEM_PROMPT if args.system is None else args.system
        messages = with_system_prompt([Message("user", args.question)], system)
        docs = cli_docs.read(args)
        with LlamaEngine(args.model, load) as engine:
            if docs:
                messages = cli_docs.attach(docs, engine, messages, params, args.json)
            finish = "stop"
            for ev in engine.stream(messages, params, cancel):
                printer.event(ev)
                if ev.kind == "stats":
                    finish = ev.stats.finish_reason
        return {"error": 1, "cancelled": 130}.get(finish, 0)
    except AppError as exc:
        printer.error(exc)
        return 1
    except OSError as exc:  # e.g. an unreadable --grammar file
        printer.error(AppError(f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")))
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ask":
            return ask(args)
        if args.command == "models":
            return cli_models.run(args)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
