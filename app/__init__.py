"""Ponder: think through hard questions with a local reasoning model."""

APP_NAME = "Ponder"
APP_ID = "ponder"
__version__ = "0.1.0"
