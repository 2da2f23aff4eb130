"""`python -m app serve`: the model as an OpenAI-compatible server for other tools.

    python -m app serve --model PATH [--port 8765] [--host 127.0.0.1] [--n-gpu-layers N] [--ctx N]
                        [--kv-cache auto|f16|q8_0] [--no-saved-states]
                        [--token-env NAME] [--cors-origin ORIGIN ...]

Headless; Ctrl+C stops it (the reply being generated is cut, waiting requests get 503).
The port is taken before the model loads, so a busy port is reported at once rather than
after a long load. docs/local-server.md is the guide.
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from pathlib import Path

from app.core.errors import AppError


def add_parser(sub) -> None:
    from app import CLI_COMMANDS
    from app.cli import add_model_options
    from app.core.serve import DEFAULT_HOST, DEFAULT_PORT

    serve = sub.add_parser("serve", help=CLI_COMMANDS["serve"], description=(
        "Serve a model to other programs on this computer with OpenAI's chat API\n"
        "(GET /v1/models, POST /v1/chat/completions). Ctrl+C stops it.\n"
        "Only 127.0.0.1 is listened on unless --host says otherwise; any other address needs a token."))
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help="port to listen on; 0 for any free one")
    serve.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                       help="address to listen on; anything but a loopback address lets other computers in and "
                            "needs a token")
    add_model_options(serve)
    serve.add_argument("--token-env", default=None, metavar="NAME",
                       help="environment variable holding the bearer token every request must carry (default: none "
                            "on 127.0.0.1; on any other address a new token is made and printed once)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from ORIGIN (e.g. http://localhost:3000) call the server; repeatable "
                            "(default: none, browsers' cross-origin calls are refused)")


def _announce_token(host: str):
    def announce(token: str) -> None:
        sys.stderr.write(
            "\n"
            f"  WARNING: listening on {host}: other computers that can reach this one can use the model.\n"
            "  Every request must carry this token (it is shown only now):\n"
            "\n"
            f"      Authorization: Bearer {token}\n"
            "\n"
            "  To choose the token yourself, put it in an environment variable and pass --token-env NAME.\n"
            "\n")
        sys.stderr.flush()
    return announce


def run(args: argparse.Namespace) -> int:
    from app import cli, cli_threads
    from app.core.engine import LlamaEngine
    from app.core.serve.server import LocalServer, bind, resolve_token

    previous = signal.signal(signal.SIGTERM, _interrupt)
    engine = None
    try:
        token = resolve_token(args.host, args.token_env, announce=_announce_token(args.host))
        saved = cli_threads.settings()
        model = args.model
        if model is None:
            model = Path(saved.model_path) if saved.model_path else None
        if model is None:
            raise AppError("No model given: pass --model PATH (a .gguf file).")
        sock = bind(args.host, args.port)
        try:
            load = replace(cli.load_params(model, args, saved.kv_cache), states=cli.saved_states(args, saved))
            engine = LlamaEngine(model, load)
            server = LocalServer(engine, args.host, token=token, cors_origins=args.cors_origin, sock=sock)
        except BaseException:
            sock.close()
            raise
        sys.stderr.write(f"Serving {engine.name} ({engine.context_size:,}-token context) at {server.url}"
                         f"{' (token required)' if token else ''}. Ctrl+C stops.\n")
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        sys.stderr.write("Stopped.\n")
        return 0
    except AppError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1
    except KeyboardInterrupt:  # while the model was loading
        sys.stderr.write("Stopped.\n")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if engine is not None:
            engine.close()


def _interrupt(*_: object) -> None:
    # SIGTERM stops the server as Ctrl+C does (uvicorn re-raises the signal once it has stopped).
    raise KeyboardInterrupt
