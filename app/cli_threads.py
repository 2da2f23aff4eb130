"""`threads list|show|export`: the window's history from a terminal, and what `ask
--thread` needs to continue a thread there."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from app import paths
from app.core.errors import AppError
from app.core.export import thread_markdown
from app.core.store import Store, StoredMessage, Thread


def add_parser(sub) -> None:
    from app import CLI_COMMANDS

    threads = sub.add_parser("threads", help=CLI_COMMANDS["threads"], description=CLI_COMMANDS["threads"] + ".",
                             allow_abbrev=False)
    verbs = threads.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="threads, newest first", allow_abbrev=False)
    listing.add_argument("--search", default=None, metavar="TEXT",
                         help="only threads whose title or text contains this (default: every thread)")
    listing.add_argument("--json", action="store_true", help="a JSON list of the threads")
    show = verbs.add_parser("show", help="a thread's messages, thinking included", allow_abbrev=False)
    show.add_argument("id", help="the thread's number, as threads list shows it")
    show.add_argument("--json", action="store_true", help="one JSON object with the thread and its messages")
    export = verbs.add_parser("export", help="a thread as Markdown", allow_abbrev=False)
    export.add_argument("id", help="the thread's number, as threads list shows it")


def settings():
    """The person's settings (system prompt, sampling, last model), as the window reads them."""
    from app.settings import load_settings

    loaded = load_settings(paths.config_dir())
    return loaded[0] if isinstance(loaded, tuple) else loaded


def open_store() -> Store:
    return Store(paths.history_path())


def thread_id(store: Store, text: str) -> int:
    """A thread id given on the command line, checked against the history."""
    try:
        value = int(text)
    except ValueError:
        raise AppError(f"'{text}' is not a thread id: give a number from `threads list`, or 'new'.") from None
    thread = store.get_thread(value)
    if thread is None or thread.deleted_at is not None:
        raise AppError(f"There is no thread {value} in the history (see `threads list`).")
    return value


def _thread_json(t: Thread) -> dict:
    return {"id": t.id, "title": t.title, "created_at": t.created_at, "updated_at": t.updated_at,
            "system_prompt": t.system_prompt, "settings": t.settings}


def _message_json(m: StoredMessage) -> dict:
    return {"id": m.id, "parent_id": m.parent_id, "role": m.role, "state": m.state, "content": m.content,
            "reasoning": m.reasoning, "think_seconds": m.think_seconds, "answer_seconds": m.answer_seconds,
            "prompt_tokens": m.prompt_tokens, "generated_tokens": m.generated_tokens, "error": m.error,
            "created_at": m.created_at}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def run(args: argparse.Namespace) -> int:
    try:
        store = open_store()
    except AppError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1
    try:
        if args.verb == "list":
            threads = store.list_threads(args.search)
            if args.json:
                print(json.dumps([_thread_json(t) for t in threads], ensure_ascii=False))
            for t in [] if args.json else threads:
                print(f"{t.id:>6}  {_when(t.updated_at)}  {t.title}")
            return 0
        tid = thread_id(store, args.id)
        thread, messages = store.get_thread(tid), store.path(tid)
        if args.verb == "export":
            sys.stdout.write(thread_markdown(thread.title, messages))
        elif args.json:
            print(json.dumps({**_thread_json(thread), "messages": [_message_json(m) for m in messages]},
                             ensure_ascii=False))
        else:
            sys.stdout.write(_plain(thread, messages))
        return 0
    except AppError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1
    finally:
        store.close()


def _plain(thread: Thread, messages: list[StoredMessage]) -> str:
    out = [f"# {thread.title}", ""]
    for m in messages:
        if m.role == "user":
            out += ["## You", m.content, ""]
            continue
        thought = f" (thought {m.think_seconds:.0f} s)" if m.think_seconds else ""
        out.append(f"## Assistant{thought}{'' if m.state == 'complete' else f' [{m.state}]'}")
        if m.reasoning:
            out += ["<thinking>", m.reasoning, "</thinking>"]
        out += [m.content, ""]
    return "\n".join(out).rstrip() + "\n"
