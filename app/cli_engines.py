"""Models on servers from a terminal: `ask --engine URL` and `engines test URL`.

    python -m app ask --engine http://gpu-box:8080 [--remote-model M] [--api-key-env NAME] "question"
    python -m app engines test URL [--remote-model M] [--api-key-env NAME] [--json]

The API key comes from the environment (never a flag, which would land in the shell's
history): --api-key-env NAME, else OPENROUTER_API_KEY for OpenRouter, else PONDER_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from app.core.errors import AppError

MODELS_SHOWN = 20


def add_ask_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("--engine", default=None, metavar="URL",
                     help="ask a model on a server instead of a local file: a llama.cpp server, vLLM, Ollama, "
                          "OpenRouter or another OpenAI-compatible address (default: none, the local model; "
                          "--n-gpu-layers, --ctx and --cpu-threads do not apply then)")
    ask.add_argument("--remote-model", default=None, metavar="NAME",
                     help="the server's model to use with --engine (default: the first it lists)")
    _key_argument(ask)


def _key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="environment variable holding the server's API key (default: OPENROUTER_API_KEY "
                             "for OpenRouter, else PONDER_API_KEY; none needed for most servers at home)")


def add_parser(sub) -> None:
    from app import CLI_COMMANDS

    engines = sub.add_parser("engines", help=CLI_COMMANDS["engines"], description=CLI_COMMANDS["engines"] + ".")
    esub = engines.add_subparsers(dest="engines_command", required=True, metavar="VERB")
    test = esub.add_parser("test", help="what is at a server address, and whether Ponder can use it")
    test.add_argument("url", help="the server's address, e.g. http://gpu-box:8080 or https://openrouter.ai/api/v1")
    test.add_argument("--remote-model", default=None, metavar="NAME",
                      help="check this model (default: the first the server lists)")
    _key_argument(test)
    test.add_argument("--json", action="store_true", help="one JSON object")


def open_engine(args: argparse.Namespace):
    """The RemoteEngine `ask --engine` talks to (raises AppError if the server cannot be used)."""
    from app.core.remote import RemoteEngine

    return RemoteEngine(args.engine, args.remote_model, api_key_env=args.api_key_env)


def engine_key(engine) -> str:
    """What documents' stored token counts are keyed by: whose tokenizer counted them."""
    return f"{engine.where}#{engine.model}"


def run(args: argparse.Namespace) -> int:
    try:
        report = check(args.url, args.remote_model, args.api_key_env)
    except AppError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": exc.user_message, "type": type(exc).__name__}), flush=True)
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False), flush=True)
    else:
        sys.stdout.write(_plain(report))
    return 0


def check(url: str, model: str | None, api_key_env: str | None) -> dict:
    """Open the server as `ask --engine` would and say what works."""
    from app.core.remote import RemoteEngine

    with RemoteEngine(url, model, api_key_env=api_key_env) as engine:
        t0 = time.perf_counter()
        models = engine.list_models()
        listed_ms = (time.perf_counter() - t0) * 1000
        report = {"ok": True, **engine.describe()}
    if report["latency_ms"] is None:  # no probe was needed (OpenRouter): time the model list instead
        report["latency_ms"] = round(listed_ms, 1)
    report["models"] = models
    return report


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
