"""An engine for the CLI's tests: stands in for LlamaEngine and records what is sent."""

from __future__ import annotations

from app.core.scripted_engine import ScriptedEngine


class RecordingEngine(ScriptedEngine):
    """The CLI's engine, replaced: records what the CLI sends."""

    made: list[ScriptedEngine] = []

    def __init__(self, path, load) -> None:
        super().__init__("<think>ok</think>Sure.")
        RecordingEngine.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
