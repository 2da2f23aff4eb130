"""Ponder: think through hard questions with a local reasoning model."""

APP_NAME = "Ponder"
APP_ID = "ponder"
__version__ = "0.1.0"
# Subcommands of `python -m app` that run headless (app/cli.py); named here so starting the
# window does not import the command-line modules just to check argv.
CLI_COMMANDS = ("ask", "models", "threads")
