"""Light and dark: follow the OS unless the person chose one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
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


_DARK = {"Window": "#1f2126", "WindowText": "#e6e6e6", "Base": "#24272d", "AlternateBase": "#2a2d33",
         "Text": "#e6e6e6", "Button": "#2c2f36", "ButtonText": "#e6e6e6", "Highlight": "#3d6fb4",
         "HighlightedText": "#ffffff", "Link": "#8ab4f8", "PlaceholderText": "#8a8f98", "ToolTipBase": "#2c2f36",
         "ToolTipText": "#e6e6e6", "Mid": "#3a3d44", "Dark": "#16181c", "Light": "#3a3d44"}
# Disabled controls must look disabled: dimmer text on the same surfaces.
_DARK_DISABLED = {"WindowText": "#6f747c", "Text": "#6f747c", "ButtonText": "#6f747c", "Button": "#25272c"}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(QPalette.ColorRole[role], QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole[role], QColor(colour))
    return palette


def apply_theme(app: QApplication, choice: str = "system") -> bool:
    """Apply the style sheet; returns True when the app is dark."""
    hints = QGuiApplication.styleHints()
    if choice == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
        if app.palette().color(QPalette.ColorRole.Window).lightness() >= 128:
            # The platform theme kept a light palette (common on Linux): bring our own.
            app.setPalette(dark_palette())
    elif choice == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
    dark = hints.colorScheme() == Qt.ColorScheme.Dark or app.palette().color(QPalette.ColorRole.Window).lightness() < 128
    colours = dict(tint="#2a2d33", dim="#9aa0a6", rule="#3a3d44") if dark else dict(tint="#f3f4f6", dim="#6b7280", rule="#e5e7eb")
    app.setStyleSheet(_SHEET.format(**colours))
    return dark
