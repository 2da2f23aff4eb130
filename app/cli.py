"""Headless commands: the same core as the GUI, from a terminal.

    python -m app ask --model PATH [--thread ID|new] [--doc FILE ...] [options] "question"
    python -m app ask --engine URL [--remote-model M] [options] "question"   (a model on a server)
    python -m app engines test URL
    python -m app threads list|show ID|export ID
    python -m app serve --model PATH [--port 8765] [--host 127.0.0.1]   (an OpenAI-compatible server)

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
from dataclasses import replace
from pathlib import Path

from app import CLI_COMMANDS, cli_docs, cli_engines, cli_models, cli_serve, cli_threads
from app.core.conversation import Attached, ChatDefaults, Conversation, ReplyRecorder, Request, prompt_messages
from app.core.engine import LlamaEngine, LoadParams, default_threads
from app.core.errors import AppError
from app.core.fit import AUTO_LAYERS, KV_SETTINGS, plan_load
from app.core.stats_text import prompt_text
from app.core.thinking import LEVELS, end_text, parse_budget
from app.core.types import GenParams
from app.help_format import Parser

DIM, RESET = "\x1b[2m", "\x1b[0m"
COMMANDS = CLI_COMMANDS


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """How a local model is loaded: the same options wherever one is (ask, serve)."""
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="path to a .gguf file (default: the model the window used last)")
    parser.add_argument("--n-gpu-layers", type=parse_layers, default=0, metavar="N",
                        help="layers on the GPU: a number, -1 for all, or 'auto' for the most that fit")
    parser.add_argument("--ctx", type=int, default=0, metavar="TOKENS",
                        help="context size in tokens (default: model's, at most 16384)")
    parser.add_argument("--cpu-threads", type=int, default=None, metavar="N",
                        help=f"CPU threads for the model (default: {default_threads()} on this computer)")
    parser.add_argument("--kv-cache", choices=KV_SETTINGS, default=None, metavar="|".join(KV_SETTINGS),
                        help="precision of the context cache: f16, q8_0 (half the memory, decodes a little slower "
                             "deep in a long context), or auto (f16, unless the layers are 'auto' and q8_0 is what "
                             "lets every layer fit on the GPU) (default: the window's setting, auto until changed "
                             "there)")
    parser.add_argument("--no-saved-states", action="store_true",
                        help="read every prompt in full: load no saved context state of a conversation and save "
                             "none (default: saved within the window's Saved conversations size, so a thread "
                             "continued later reads only what is new)")


def saved_states(args: argparse.Namespace, settings):
    """Where conversations' read prompts are kept (the window's folder and disk budget), or
    None with --no-saved-states."""
    if getattr(args, "no_saved_states", False):
        return None
    from app.context_states import open_store

    return open_store(settings.saved_states_gb)


def build_parser() -> argparse.ArgumentParser:
    # Parser: allow_abbrev=False everywhere (a prefix would read `--thread` as another option),
    # and each option's default in --help; subparsers inherit the class.
    parser = Parser(prog="python -m app", description="Ask a local reasoning model.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask = sub.add_parser("ask", help=CLI_COMMANDS["ask"], description=(
        "Ask one question. The reasoning goes to stderr, the answer to stdout.\n"
        "Sampling and the system prompt default to the thread's own values with --thread,\n"
        "else to the window's settings (the built-in values until changed there)."))
    ask.add_argument("question", help="the question; quote it")
    add_model_options(ask)
    ask.add_argument("--thread", default=None, metavar="ID|new",
                     help="continue thread ID of the window's history, or start a new one there ('new') "
                          "(default: none, the question and reply are not saved)")
    built_in = GenParams()
    ask.add_argument("--max-tokens", type=int, default=None, metavar="N",
                     help=f"most tokens to generate, thinking included {_setting(built_in.max_tokens)}")
    ask.add_argument("--temperature", type=float, default=None, metavar="T",
                     help=f"sampling temperature, 0 for greedy {_setting(built_in.temperature)}")
    ask.add_argument("--top-p", type=float, default=None, metavar="P",
                     help=f"keep the likeliest tokens up to this total probability {_setting(built_in.top_p)}")
    ask.add_argument("--top-k", type=int, default=None, metavar="K",
                     help=f"keep at most this many likeliest tokens, 0 for all {_setting(built_in.top_k)}")
    ask.add_argument("--seed", type=int, default=None, metavar="N",
                     help="random seed, for repeatable replies (default: the window's setting; until one is "
                          "set there, a new seed each time)")
    ask.add_argument("--system", default=None, metavar="TEXT",
                     help="system prompt (default: the thread's, else the settings')")
    ask.add_argument("--grammar", default=None, metavar="GBNF|@FILE",
                     help="GBNF grammar text the reply must follow, or @FILE to read it "
                          "(default: none, or the thread's)")
    ask.add_argument("--think", type=_budget, default=None, metavar="quick|normal|long|none|N",
                     help="thinking budget: " + ", ".join(f"{k} {v:,}" for k, v in LEVELS.items() if v)
                          + " tokens, none for no limit, or a number of tokens; at the budget the thinking "
                            "is closed and the model answers (default: the thread's, else no limit)")
    ask.add_argument("--no-think", action="store_true",
                     help="answer directly: the reply starts with its thinking closed")
    ask.add_argument("--no-drafts", action="store_true",
                     help="no drafts from the conversation's text (they keep the model's output and are used "
                          "only where they measure faster; default: the window's setting)")
    ask.add_argument("--json", action="store_true", help="one JSON object per event on stdout")
    cli_docs.add_arguments(ask)
    cli_engines.add_ask_arguments(ask)
    cli_models.add_parser(sub)
    cli_threads.add_parser(sub)
    cli_engines.add_parser(sub)
    cli_serve.add_parser(sub)
    return parser


def _setting(built_in) -> str:
    return f"(default: the window's setting, {built_in} until changed there)"


def parse_layers(value: str) -> int:
    if value.lower() == "auto":
        return AUTO_LAYERS
    return int(value)


def load_params(model: Path, args: argparse.Namespace, kv_setting: str | None = None) -> LoadParams:
    """How the window would load `model` here: the layers ('auto': the most the fit estimate
    says fit), the context cache's precision (`--kv-cache`, else `kv_setting`, else auto) and
    the prompt micro-batch, from the same load plan. Says on stderr what an automatic choice
    came to."""
    from app.core.context_rules import default_context
    from app.core.gguf_info import read_layout
    from app.core.hardware import detect

    hw = detect()
    kv = args.kv_cache or kv_setting or "auto"
    layout = None
    if hw.gpus and hw.supports_offload or args.n_gpu_layers == AUTO_LAYERS:
        try:
            layout = read_layout(model)
        except (OSError, AppError):  # the load itself says what is wrong with the file, in one line
            layout = None
    ctx = default_context(layout.context_length if layout else None, args.ctx)
    plan = plan_load(layout, hw, ctx, args.n_gpu_layers, kv)
    est = plan.estimate()
    if est is not None and (plan.auto or plan.kv_auto_q8):
        sys.stderr.write(f"{est.label(auto_q8=plan.kv_auto_q8)}\n")
    return LoadParams(n_gpu_layers=plan.n_gpu_layers, n_ctx=args.ctx, n_threads=args.cpu_threads,
                      n_batch=plan.n_batch, kv_cache_type=plan.kv_cache_type)


def _budget(value: str) -> int | str:
    try:
        budget = parse_budget(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return "none" if budget is None else budget


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
        elif ev.kind == "notice":
            self._end_reasoning()
            sys.stderr.write(f"note: {ev.text}\n")
        elif ev.kind == "repeating":
            self._end_reasoning()
            then = " Answering now." if ev.answering else ""
            sys.stderr.write(f"[the model seems to be repeating itself.{then}]\n")
        elif ev.kind == "stats":
            self._end_reasoning()
            s = ev.stats
            sys.stdout.write("\n")
            ended = end_text(s.thinking_end, s.think_budget)
            prompt = prompt_text(s)
            sys.stderr.write(
                f"[{f'{prompt}; ' if prompt else ''}{s.generated_tokens} tokens, {s.tokens_per_second} tok/s"
                f"{f' ({s.draft_speedup:.1f}x from drafts)' if s.draft_speedup >= 1.05 else ''}, "
                f"thought {s.think_seconds:.1f} s, finish: {s.finish_reason}{f'; thinking {ended}' if ended else ''}]\n"
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

    def thread(self, thread_id: int) -> None:
        """Which stored thread the reply goes to (to continue it with --thread ID)."""
        if self.as_json:
            print(json.dumps({"kind": "thread", "id": thread_id}), flush=True)
        else:
            sys.stderr.write(f"[thread {thread_id}]\n")

    def notice(self, text: str | None) -> None:
        if text:
            self._end_reasoning()
            sys.stderr.write(f"note: {text}\n")

    def error(self, exc: AppError) -> None:
        if self.as_json:
            print(json.dumps({"kind": "error", "message": exc.user_message, "type": type(exc).__name__}), flush=True)
        sys.stderr.write(f"error: {exc.user_message}\n")


_SAMPLING = ("max_tokens", "temperature", "top_p", "top_k", "seed")


def _session_changes(args: argparse.Namespace) -> dict:
    """The sampling flags given on the command line (they win over thread and settings)."""
    changes = {k: getattr(args, k) for k in _SAMPLING if getattr(args, k) is not None}
    grammar = _grammar(args.grammar)
    if grammar is not None:
        changes["grammar"] = grammar
    if args.think is not None:
        changes["think_budget"] = None if args.think == "none" else args.think
    if args.no_think:
        changes["answer_directly"] = True
    if args.no_drafts:
        changes["drafts"] = False
    return changes


def _conversation(args: argparse.Namespace, settings, changes: dict) -> tuple[Conversation | None, Request]:
    """The stored thread to continue (or start), or none; and what asking would send."""
    defaults = ChatDefaults(settings.system_prompt, settings.gen_params())
    if args.thread is None:
        system = settings.system_prompt if args.system is None else args.system
        params = replace(defaults.params, **changes)
        return None, Request(prompt_messages(system, [], args.question.strip()), params)
    store = cli_threads.open_store()
    thread_id = None if args.thread == "new" else cli_threads.thread_id(store, args.thread)
    conversation = Conversation(store, thread_id, defaults, changes, system_prompt=args.system)
    return conversation, conversation.request(args.question)


def ask(args: argparse.Namespace) -> int:
    printer = _Printer(args.json)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    conversation = None
    try:
        if not args.question.strip():
            raise AppError("The question is empty.")
        settings = cli_threads.settings()
        if args.engine is not None and args.model is not None:
            raise AppError("Give either --model (a local file) or --engine (a server), not both.")
        model = None if args.engine else args.model or (Path(settings.model_path) if settings.model_path else None)
        if model is None and args.engine is None:
            raise AppError("No model given: pass --model PATH (a .gguf file).")
        conversation, request = _conversation(args, settings, _session_changes(args))
        if args.engine is None:
            load = replace(load_params(model, args, settings.kv_cache), states=saved_states(args, settings))
        docs = cli_docs.read(args)
        engine = cli_engines.open_engine(args) if args.engine else LlamaEngine(model, load)
        with engine:
            plan = None
            if docs:
                plan, request = cli_docs.attach(docs, engine, request, args.json)
            recorder = None
            if conversation is not None:
                key = cli_engines.engine_key(engine) if args.engine else str(model)
                attached = Attached(docs, plan, key, request) if docs else None
                turn = conversation.ask(args.question, attached)
                request, recorder = turn.request, ReplyRecorder(conversation.store, turn.reply.id)
                printer.thread(turn.thread_id)
            finish = "stop"
            try:
                for ev in engine.stream(request.messages, request.params, cancel):
                    printer.event(ev)
                    if recorder is not None:
                        recorder.add([ev])
                        printer.notice(recorder.save_if_due())
                    if ev.kind == "stats":
                        finish = ev.stats.finish_reason
            finally:
                if recorder is not None:  # a failed or cut-off reply is kept as far as it came
                    printer.notice(recorder.finish(None if recorder.stats else "cancelled" if cancel.is_set()
                                                   else "error")[1])
        return {"error": 1, "cancelled": 130}.get(finish, 0)
    except AppError as exc:
        printer.error(exc)
        return 1
    except OSError as exc:  # e.g. an unreadable --grammar file
        printer.error(AppError(f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")))
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        if conversation is not None:
            conversation.store.close()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ask":
            return ask(args)
        if args.command == "models":
            return cli_models.run(args)
        if args.command == "threads":
            return cli_threads.run(args)
        if args.command == "engines":
            return cli_engines.run(args)
        if args.command == "serve":
            return cli_serve.run(args)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
