"""Models on servers from a terminal: `ask --engine NAME|URL` and `engines list|add|test|remove`.

    python -m app ask --engine gpu-box|http://gpu-box:8080 [--remote-model M] [--api-key-env NAME] "question"
    python -m app engines add NAME URL [--remote-model M] [--api-key-env VAR | --key-stdin [--key-file-ok]]
    python -m app engines list|test NAME|URL|remove NAME [--json]

Connections are the window's (connections.json in the config folder). The API key is
never a flag (it would land in the shell's history): a saved connection's key is in the
system keychain (given once with --key-stdin), or in the variable it names; else
--api-key-env NAME, else OPENROUTER_API_KEY for OpenRouter, else PONDER_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import sys

from app.core.errors import AppError

MODELS_SHOWN = 20


def add_ask_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("--engine", default=None, metavar="NAME|URL",
                     help="ask a model on a server instead of a local file: a saved connection's name (engines "
                          "list) or the address of a llama.cpp server, vLLM, Ollama, OpenRouter or another "
                          "OpenAI-compatible server (default: none, the local model; --n-gpu-layers, --ctx and "
                          "--cpu-threads do not apply then)")
    ask.add_argument("--remote-model", default=None, metavar="NAME",
                     help="the server's model to use with --engine (default: the first it lists)")
    _key_argument(ask)


def _key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="environment variable holding the server's API key (default: a saved connection's key, "
                             "else OPENROUTER_API_KEY for OpenRouter, else PONDER_API_KEY; none needed for most "
                             "servers at home)")


def add_parser(sub) -> None:
    from app import CLI_COMMANDS

    engines = sub.add_parser("engines", help=CLI_COMMANDS["engines"], description=CLI_COMMANDS["engines"] + ".")
    esub = engines.add_subparsers(dest="engines_command", required=True, metavar="VERB")
    listing = esub.add_parser("list", help="the saved connections (the window's too)")
    listing.add_argument("--json", action="store_true", help="one JSON object per connection")
    add = esub.add_parser("add", help="save a connection (tested at once; saved even if the server is down)")
    add.add_argument("name", help="a short name for it, e.g. gpu-box")
    add.add_argument("url", help="the server's address, e.g. http://gpu-box:8080 or https://openrouter.ai/api/v1")
    add.add_argument("--remote-model", default=None, metavar="NAME",
                     help="the server's model to use (default: the first it lists)")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument("--api-key-env", default=None, metavar="VAR",
                      help="read the API key from this environment variable each time (default: none)")
    keys.add_argument("--key-stdin", action="store_true",
                      help="read the API key from standard input and keep it in the system keychain")
    add.add_argument("--key-file-ok", action="store_true",
                     help="with --key-stdin where no keychain is available: keep the key in a file only you "
                          "can read (default: refuse)")
    add.add_argument("--json", action="store_true", help="one JSON object")
    test = esub.add_parser("test", help="what is at a saved connection or an address, and whether Ponder can use it")
    test.add_argument("url", metavar="NAME|URL",
                      help="a saved connection, or an address such as http://gpu-box:8080")
    test.add_argument("--remote-model", default=None, metavar="NAME",
                      help="check this model (default: the connection's, else the first the server lists)")
    _key_argument(test)
    test.add_argument("--json", action="store_true", help="one JSON object")
    remove = esub.add_parser("remove", help="forget a saved connection and its key")
    remove.add_argument("name", help="the connection's name")


def connections():
    from app import paths
    from app.core.remote.connections import Connections

    conns = Connections(paths.config_dir())
    if conns.problem:
        sys.stderr.write(f"warning: {conns.problem}\n")
    return conns


def open_engine(args: argparse.Namespace):
    """The RemoteEngine `ask --engine` talks to (raises AppError if the server cannot be used)."""
    return connections().open_engine(args.engine, args.remote_model, args.api_key_env)


def engine_key(engine) -> str:
    """What documents' stored token counts are keyed by: whose tokenizer counted them."""
    return f"{engine.where}#{engine.model}"


def run(args: argparse.Namespace) -> int:
    verb = args.engines_command
    try:
        if verb == "list":
            return _list(args)
        if verb == "add":
            return _add(args)
        if verb == "remove":
            conns = connections()
            conns.remove(args.name)
            sys.stdout.write(f"removed {args.name}\n")
            return 0
        conns = connections()
        target = conns.resolve(args.url)
        report = check(target, args.remote_model, args.api_key_env, conns)
    except AppError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": exc.user_message, "type": type(exc).__name__}), flush=True)
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1
    if conns.get(target.name) is not None:
        report["name"] = target.name
        _note(conns, target.name, report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False), flush=True)
    else:
        sys.stdout.write(_plain(report))
    return 0


def check(target, model: str | None, api_key_env: str | None, conns=None) -> dict:
    """Open the server (a Connection, or an address) as `ask --engine` would and say what works."""
    if conns is None:
        conns = connections()
    from app.core.remote.connections import check_server

    with conns.open_engine(target, model, api_key_env) as engine:
        return check_server(engine)


def _note(conns, name: str, report: dict) -> None:
    try:
        conns.note_detected(name, report["kind"])
    except AppError as exc:  # the test's answer matters more than remembering the kind
        sys.stderr.write(f"warning: {exc.user_message}\n")


def _key_source(conns, name: str) -> str:
    place = conns.key_place(name)
    conn = conns.get(name)
    if place:
        return place
    return f"${conn.api_key_env}" if conn.api_key_env else "none"


def _list(args: argparse.Namespace) -> int:
    from app.core.remote.detect import KINDS

    conns = connections()
    rows = [{"name": c.name, "url": c.url, "kind": c.kind, "model": c.model, "key": _key_source(conns, c.name),
             "local": c.loopback} for c in conns]
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        return 0
    if not rows:
        sys.stdout.write("No connections saved. Add one: python -m app engines add NAME URL\n")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        kind = KINDS.get(r["kind"] or "", "kind not known yet")
        sys.stdout.write(f"{r['name']:<{width}}  {r['url']}  ({kind}; model: {r['model'] or 'first listed'}; "
                         f"key: {r['key']})\n")
    return 0


def _add(args: argparse.Namespace) -> int:
    from app.core.remote.connections import Connection

    conns = connections()
    key = None
    if args.key_stdin:
        problem = conns.secrets.keychain_problem()
        if problem and not args.key_file_ok:
            raise AppError(f"{problem} Add --key-file-ok to keep it in {conns.secrets.file_path} (readable only "
                           f"by you), or use --api-key-env VAR instead. Nothing was saved.")
        key = sys.stdin.readline(16 * 1024 + 2).strip()
        if not key:
            raise AppError("No key came on standard input. Nothing was saved.")
    conn = conns.put(Connection(args.name, args.url, model=args.remote_model, api_key_env=args.api_key_env))
    place = None
    if key is not None:
        try:
            place = conns.set_key(conn.name, key, allow_file=args.key_file_ok)
        except AppError:
            conns.remove(conn.name)  # a connection without the key it was given would only fail later
            raise
    try:
        report = check(conn, None, None, conns)
    except AppError as exc:
        report = {"ok": False, "error": exc.user_message, "type": type(exc).__name__}
        sys.stderr.write(f"warning: saved, but the server could not be used now: {exc.user_message}\n")
    else:
        _note(conns, conn.name, report)
    report = {**report, "name": conn.name, "saved": True, "key": place or _key_source(conns, conn.name)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False), flush=True)
    else:
        where = {"keychain": "in the system keychain", "file": f"in {conns.secrets.file_path}"}.get(place or "", "")
        sys.stdout.write(f"saved {conn.name} ({conn.url})" + (f"; its key is kept {where}" if where else "") + "\n")
        if report["ok"]:
            sys.stdout.write(_plain(report))
    return 0


def _plain(r: dict) -> str:
    models = ", ".join(r["models"][:MODELS_SHOWN]) or "none"
    if len(r["models"]) > MODELS_SHOWN:
        models += f" (and {len(r['models']) - MODELS_SHOWN} more)"
    version = f" {r['version']}" if r["version"] else ""
    context = f"{r['context_size']:,} tokens" + ("" if r["context_known"] else " (assumed: the server does not say)")
    counts = "estimated (characters / 4)" if r["counts_estimated"] else "the server's tokenizer"
    lines = [
        f"server:     {r['server']}{version} at {r['url']}",
        f"latency:    {r['latency_ms']} ms",
        f"models:     {models}",
        f"model:      {r['model']}",
        f"context:    {context}",
        f"counts:     {counts}",
        f"answer now: {'yes' if r['supports_answer_now'] else 'no (this server cannot end the thinking early)'}",
    ]
    return "\n".join(lines) + "\n"
