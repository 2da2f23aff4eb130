"""Ponder: think through hard questions with a local reasoning model."""

APP_NAME = "Ponder"
APP_ID = "ponder"
__version__ = "0.1.0"
# Subcommands of `python -m app` that run headless (app/cli.py), each with the line --help shows;
# named here so starting the window does not import the command-line modules just to read argv.
CLI_COMMANDS = {
    "ask": "ask one question and stream the reasoning and the answer",
    "models": "list, download, inspect and import models",
    "threads": "list, show or export the window's threads",
    "engines": "saved model servers (llama.cpp, vLLM, Ollama, OpenRouter) for ask --engine: list, add, test, remove",
    "serve": "serve a model to other programs on this computer with OpenAI's chat API",
}
