"""Colours for rendered answers on a light or a dark background.

QTextDocument ignores style sheets for most of what matters here, so every colour is
written inline into the HTML (and into math images), chosen per background.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TEXT_PX = 15.0  # the view's body font size in device-independent px; math is set to match


@dataclass(frozen=True, slots=True)
class Theme:
    text: str  # body text; math images are drawn in it
    muted: str  # block quotes, code block headers
    code_style: str  # Pygments style for code blocks
    code_bg: str
    inline_code_bg: str
    border: str


LIGHT = Theme(
    text="#1f2328", muted="#59636e", code_style="default", code_bg="#f6f8fa", inline_code_bg="#eff1f3",
    border="#afb8c1",
)
DARK = Theme(
    text="#e6edf3", muted="#9198a1", code_style="github-dark", code_bg="#161b22", inline_code_bg="#2d333b",
    border="#484f58",
)


def theme_for(dark: bool) -> Theme:
    return DARK if dark else LIGHT
