"""The window's one set of sizes and colours, light and dark.

Every margin, gap, radius and font size in the conversation comes from here, so the
parts line up with each other and the light and dark looks differ only in colour.
Font sizes follow the person's own font size (the application font), so a larger
system font gives larger text and a wider reading column.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtGui import QFont, QFontInfo, QFontMetricsF, QGuiApplication

from app.render.theme import DARK as ANSWER_DARK
from app.render.theme import LIGHT as ANSWER_LIGHT

# Spacing steps in px: margins and gaps use only these.
XS, S, M, L, XL, XXL = 4, 8, 12, 16, 24, 32
RADIUS_SMALL = 6  # buttons, chips
RADIUS = 10  # boxes: the thinking section, example questions
RADIUS_BUBBLE = 16  # a question's bubble

READING_CHARS = 76  # a comfortable line for prose, in characters of average English text
THINKING_SHARE = 0.6  # the thinking column beside the answer, at most, as a share of the answer column
THINKING_MIN = 240  # narrower than this, open thinking goes above the answer instead of beside it
BUBBLE_SHARE = 0.8  # the widest a question's bubble gets, as a share of the column
_SAMPLE = "The quick brown fox jumps over the lazy dog, then checks each step again."


@dataclass(frozen=True, slots=True)
class Colours:
    surface: str  # the conversation's background
    text: str
    muted: str  # secondary text: headers, help lines, icons
    bubble: str  # a question's bubble
    thinking: str  # the open thinking section
    line: str  # borders and rules
    hover: str  # a button under the pointer
    accent: str
    accent_text: str
    error: str
    track: str  # the empty part of a meter


LIGHT = Colours(surface="#ffffff", text=ANSWER_LIGHT.text, muted="#656d76", bubble="#e9f0fb", thinking="#f6f7f9",
                line="#e1e4e8", hover="#eceef1", accent="#2f6fdf", accent_text="#ffffff", error="#c0392b",
                track="#dde1e6")
DARK = Colours(surface="#212328", text=ANSWER_DARK.text, muted="#9ba1a9", bubble="#2d3a4f", thinking="#282b31",
               line="#373b43", hover="#33373e", accent="#5b8def", accent_text="#ffffff", error="#ff8a80",
               track="#3a3e46")


def colours(dark: bool) -> Colours:
    return DARK if dark else LIGHT


@dataclass(frozen=True, slots=True)
class TypeScale:
    """Font sizes in px."""

    small: int  # captions, help lines
    body: int  # the window's own controls
    thinking: int  # the thinking trace: a step below the answer
    reading: int  # questions and answers
    title: int  # a greeting


def type_scale(font: QFont | None = None) -> TypeScale:
    base = QFontInfo(font or QGuiApplication.font()).pixelSize()
    return _scale(max(base, 9))


@lru_cache(maxsize=8)
def _scale(base: int) -> TypeScale:
    reading = round(base * 1.25)
    return TypeScale(small=max(10, round(base * 0.95)), body=base, thinking=reading - 2, reading=reading,
                     title=round(base * 2))


def reading_font(size: TypeScale | None = None) -> QFont:
    font = QFont(QGuiApplication.font())
    font.setPixelSize((size or type_scale()).reading)
    return font


def column_width(size: TypeScale | None = None) -> int:
    """The reading column in px: READING_CHARS characters of answer text."""
    return _column((size or type_scale()).reading, QGuiApplication.font().family())


@lru_cache(maxsize=8)
def _column(reading_px: int, _family: str) -> int:
    font = QFont(QGuiApplication.font())
    font.setPixelSize(reading_px)
    per_char = QFontMetricsF(font).horizontalAdvance(_SAMPLE) / len(_SAMPLE)
    return round(per_char * READING_CHARS)


def beside_room(available: int) -> int:
    """The width open thinking gets to the left of a centred column in a view `available`
    px wide; under THINKING_MIN there is no room for it there."""
    column = min(column_width(), available - 2 * L)
    left = (available - column) // 2 - L - M
    return min(left, round(column * THINKING_SHARE))
