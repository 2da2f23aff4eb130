"""Streaming sends thousands of signals a minute to Python slots. PySide6 6.12.0 on
Python 3.11 breaks reference counting there: a few hundred emits abort the interpreter
("bool_dealloc"), which is why pyproject.toml keeps PySide6 below 6.12. Run in a child
process, since the failure is an abort, not an exception."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
from PySide6.QtCore import QCoreApplication, QObject, Signal
from app.core.types import TextEvent
app = QCoreApplication([])
class Emitter(QObject):
    events = Signal(int, object)
    listed = Signal(int, list)
emitter, seen = Emitter(), []
emitter.events.connect(lambda i, events: seen.append(events[0].moves_answer))
emitter.listed.connect(lambda i, events: seen.append(events[0]))
for i in range(5000):
    emitter.events.emit(i, [TextEvent("answer", "x")])
    emitter.listed.emit(i, [False])
print(len(seen))
"""


def test_many_emits_to_python_slots_do_not_abort():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "10000"
