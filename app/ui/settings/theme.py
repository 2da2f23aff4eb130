"""Light and dark: follow the OS unless the person chose one, and switch while running.

The style sheet is built from app/ui/style.py's sizes and colours; ThemeWatcher applies
the person's choice when it changes in Settings and, for "Follow the system", when
the platform reports that the system's scheme changed.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.ui import style

_SHEET = """
#chatView, #chatColumn {{ background: {surface}; }}
#userBubble {{ background: {bubble}; border-radius: {radius_bubble}px; }}
#userText {{ color: {text}; background: transparent; }}
#reasoningBox {{ background: transparent; border: 1px solid transparent; border-radius: {radius}px; }}
#reasoningBox[open="true"] {{ background: {thinking}; border: 1px solid {line}; }}
#reasoningBody {{ background: transparent; color: {muted}; font-size: {thinking_px}px; }}
#reasoningHeader {{ color: {muted}; border: none; border-radius: {radius_small}px; padding: 3px 8px 3px 4px; }}
#reasoningHeader:hover, #reasoningHeader:focus {{ background: {hover}; }}
#answerView {{ background: transparent; }}
#chatView QScrollBar:vertical, #reasoningBody QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
#chatView QScrollBar::handle:vertical, #reasoningBody QScrollBar::handle:vertical {{
    background: {track}; border-radius: 3px; min-height: 24px; }}
#chatView QScrollBar::handle:vertical:hover, #reasoningBody QScrollBar::handle:vertical:hover {{ background: {muted}; }}
#chatView QScrollBar::add-line, #chatView QScrollBar::sub-line,
#reasoningBody QScrollBar::add-line, #reasoningBody QScrollBar::sub-line {{ height: 0; }}
#chatView QScrollBar::add-page, #chatView QScrollBar::sub-page,
#reasoningBody QScrollBar::add-page, #reasoningBody QScrollBar::sub-page {{ background: transparent; }}
#statusLine {{ color: {muted}; }}
#messageActions QToolButton, #branchSwitch QToolButton {{ border: none; border-radius: {radius_small}px; padding: 4px; }}
#messageActions QToolButton:hover, #branchSwitch QToolButton:hover {{ background: {hover}; }}
#messageActions QToolButton:focus, #branchSwitch QToolButton:focus {{ border: 1px solid {accent}; }}
#branchLabel {{ color: {muted}; font-size: {small}px; }}
#inlineEditor {{ background: {bubble}; border-radius: {radius}px; }}
#inlineEditorText {{ background: transparent; color: {text}; }}
#hintText {{ color: {muted}; font-size: {small}px; }}
#primaryButton {{ background: {accent}; color: {accent_text}; border: none; border-radius: {radius_small}px;
                  padding: 6px 16px; font-weight: 600; }}
#primaryButton:disabled {{ background: {track}; color: {muted}; }}
#sendButton {{ background: {accent}; color: {accent_text}; border: none; border-radius: {radius_small}px;
               padding: 6px 16px; font-weight: 600; }}
#sendButton:disabled {{ background: {track}; color: {muted}; }}
#secondaryButton, #attachButton {{ background: {surface}; color: {text}; border: 1px solid {line};
    border-radius: {radius_small}px; padding: 4px 12px; }}
#secondaryButton:hover, #attachButton:hover {{ background: {hover}; }}
#secondaryButton:focus, #attachButton:focus {{ border-color: {accent}; }}
#secondaryButton:disabled, #attachButton:disabled {{ color: {muted}; }}
#emptyTitle {{ font-size: {title}px; font-weight: 600; color: {text}; }}
#emptyText {{ color: {muted}; }}
#exampleCard {{ background: {surface}; border: 1px solid {line}; border-radius: {radius}px; }}
#exampleCard:hover, #exampleCard:focus {{ background: {hover}; border-color: {muted}; }}
#exampleTopic {{ color: {muted}; font-size: {small}px; font-weight: 600; }}
#exampleText {{ color: {text}; }}
#errorText {{ color: {error}; }}
#contextText {{ color: {muted}; }}
#contextText[over="true"] {{ color: {error}; }}
#helpText {{ color: {muted}; font-size: {small}px; }}
#firstRun {{ background: {surface}; }}
#welcomeTitle {{ font-size: {title}px; font-weight: 600; color: {text}; }}
#welcomeStep {{ font-weight: 600; color: {text}; }}
#welcomeText {{ color: {muted}; }}
#fitLabel[warn="true"] {{ color: {error}; }}
#backendLabel {{ color: {muted}; }}
#serverIndicator {{ border: none; color: {muted}; padding: 0 8px; }}
#serverIndicator:hover {{ color: {text}; }}
#serverIndicator[warn="true"] {{ color: {error}; font-weight: 600; }}
#engineButton {{ background: {surface}; color: {text}; border: 1px solid {line}; border-radius: {radius_small}px;
    padding: 4px 6px; font-weight: 600; }}
#engineButton:hover {{ background: {hover}; }}
#engineButton:focus {{ border-color: {accent}; }}
#engineButton:disabled {{ color: {muted}; }}
#remoteBadge {{ color: {accent}; background: {bubble}; border-radius: {radius_small}px; padding: 2px 8px;
    font-size: {small}px; font-weight: 600; }}
#remoteBadge[local="true"] {{ color: {muted}; background: {thinking}; }}
"""

_DARK = {"Window": "#1f2126", "WindowText": "#e6e6e6", "Base": "#2b2f36", "AlternateBase": "#30343b",
         "Text": "#e6e6e6", "Button": "#2c2f36", "ButtonText": "#e6e6e6", "Highlight": "#3d6fb4",
         "HighlightedText": "#ffffff", "Link": "#8ab4f8", "PlaceholderText": "#8a8f98", "ToolTipBase": "#2c2f36",
         "ToolTipText": "#e6e6e6", "Mid": "#3a3d44", "Dark": "#16181c", "Light": "#3a3d44"}
# Disabled controls must look disabled: dimmer text on the same surfaces.
_DARK_DISABLED = {"WindowText": "#6f747c", "Text": "#6f747c", "ButtonText": "#6f747c", "Button": "#25272c"}
_applying = False  # apply_theme's own scheme change must not read as the system's


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(QPalette.ColorRole[role], QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole[role], QColor(colour))
    return palette


def style_sheet(dark: bool) -> str:
    size = style.type_scale()
    return _SHEET.format(
        small=size.small, title=size.title, thinking_px=size.thinking, radius=style.RADIUS, radius_small=style.RADIUS_SMALL,
        radius_bubble=style.RADIUS_BUBBLE, **{k: getattr(style.colours(dark), k) for k in style.Colours.__slots__},
    )


def _ours(app: QApplication) -> bool:
    """The dark palette in use is the one dark_palette() made (not the platform's)."""
    return app.palette().color(QPalette.ColorRole.Window) == QColor(_DARK["Window"])


def apply_theme(app: QApplication, choice: str = "system") -> bool:
    """Apply the palette and style sheet for `choice` ("system", "light", "dark");
    returns True when the app is dark. Safe to call again with another choice."""
    global _applying
    hints = QGuiApplication.styleHints()
    _applying = True
    try:
        if choice == "dark":
            hints.setColorScheme(Qt.ColorScheme.Dark)
        elif choice == "light":
            hints.setColorScheme(Qt.ColorScheme.Light)
        else:
            hints.unsetColorScheme()
        want_dark = choice == "dark" or (choice == "system" and hints.colorScheme() == Qt.ColorScheme.Dark)
        light_palette = app.palette().color(QPalette.ColorRole.Window).lightness() >= 128
        if want_dark and light_palette:
            # The platform theme kept a light palette (common on Linux): bring our own.
            app.setPalette(dark_palette())
        elif not want_dark and _ours(app):
            app.setPalette(QPalette())  # back to the platform's own
    finally:
        _applying = False
    dark = hints.colorScheme() == Qt.ColorScheme.Dark or app.palette().color(QPalette.ColorRole.Window).lightness() < 128
    app.setStyleSheet(style_sheet(dark))
    return dark


class ThemeWatcher(QObject):
    """Applies the person's theme choice as it changes; `dark_changed` tells the views
    that draw their own colours (answers, icons) to draw again."""

    dark_changed = Signal(bool)

    def __init__(self, choice: str = "system", dark: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.choice = choice
        self.dark = dark
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)

    def set_choice(self, choice: str) -> None:
        self.choice = choice
        self._apply()

    def _system_changed(self, _scheme) -> None:
        if self.choice == "system" and not _applying:
            self._apply()

    def _apply(self) -> None:
        app = QApplication.instance()
        if app is None:
            return
        dark = apply_theme(app, self.choice)
        if dark != self.dark:
            self.dark = dark
            self.dark_changed.emit(dark)
