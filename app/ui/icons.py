"""Line icons from resources/icons/, drawn in the colour they are asked for.

The SVG files draw with `currentColor`; each is rendered with the light or the dark
theme's colour put in, so one file serves both. Rendered pixmaps are kept per
(name, colour, size): a thread of a hundred messages draws each icon once.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app import paths

ICON_PX = 16  # in the message actions and headers


@lru_cache(maxsize=32)
def _svg(name: str) -> str:
    return paths.resource("icons", f"{name}.svg").read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def icon(name: str, colour: str, size: int = ICON_PX) -> QIcon:
    """The icon `name` (a file in resources/icons/) in `colour` (#rrggbb)."""
    data = QByteArray(_svg(name).replace("currentColor", colour).encode("utf-8"))
    renderer = QSvgRenderer(data)
    result = QIcon()
    screen = QGuiApplication.primaryScreen()
    ratios = {1.0, 2.0, float(screen.devicePixelRatio()) if screen else 1.0}
    for ratio in sorted(ratios):
        pixmap = QPixmap(QSize(round(size * ratio), round(size * ratio)))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        result.addPixmap(pixmap)
    return result
