"""Ponder as a server: an OpenAI-compatible endpoint on this computer for other tools.

    server.LocalServer    where it listens, its token, starting and stopping (uvicorn)
    asgi.create_app       the HTTP API (Starlette): /v1/models, /v1/chat/completions
    worker.Worker         the one thread that owns the engine; a bounded line of requests
    chat_request          a request body, checked and bounded, into messages and GenParams
    reply                 engine events into OpenAI's fields, stop strings, usage

Modules here import Starlette and uvicorn; nothing else in the app imports them until
`serve` runs. docs/local-server.md is the guide for people.
"""

# Here rather than in server.py, so `serve --help` shows them without loading the server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
