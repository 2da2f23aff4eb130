"""Light and dark: follow the OS unless the person chose one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# Quieter thinking: smaller, dimmer text on a tinted background.
_SHEET = """
#reasoningBox {{ background: {tint}; border-radius: 6px; }}
#reasoningBody {{ background: transparent; color: {dim}; font-size: 12px; }}
#reasoningHeader {{ color: {dim}; }}
#answerView {{ background: transparent; }}
#assistantMessage, #userMessage {{ border-bottom: 1px solid {rule}; }}
#errorText {{ color: #c0392b; }}
#roleLabel {{ font-weight: bold; }}
#fitLabel[warn="true"] {{ color: #c0392b; }}
#backendLabel {{ color: {dim}; }}
#contextMeter[over="true"]::chunk {{ background: #c0392b; }}
"""


def apply_theme(app: QApplication, choice: str = "system") -> bool:
    """Apply the style sheet; returns True when the app is dark."""
    hints = QGuiApplication.styleHints()
    if choice == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
    elif choice == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
    dark = hints.colorScheme() == Qt.ColorScheme.Dark or app.palette().color(QPalette.ColorRole.Window).lightness() < 128
    colours = dict(tint="#2a2d33", dim="#9aa0a6", rule="#3a3d44") if dark else dict(tint="#f3f4f6", dim="#6b7280", rule="#e5e7eb")
    app.setStyleSheet(_SHEET.format(**colours))
    return dark
