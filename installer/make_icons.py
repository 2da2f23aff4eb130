"""Render resources/icons/ponder.svg to the icon files the installers need.

    python installer/make_icons.py [OUT_DIR]    (default: build/icons)

Writes ponder.ico (Windows), ponder.icns (macOS) and PNGs. Qt draws the SVG and Pillow
(a matplotlib dependency) writes the containers, so the same script runs on every platform
and needs neither iconutil nor ImageMagick.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024]


def render(size: int):
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(ROOT / "resources" / "icons" / "ponder.svg")).render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data())))


def main(out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no window is shown
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (Qt's painting needs one)
    out.mkdir(parents=True, exist_ok=True)
    images = {size: render(size) for size in SIZES}
    for size in (48, 128, 256, 512):
        images[size].save(out / f"ponder-{size}.png")
    images[256].save(out / "ponder.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    images[1024].save(out / "ponder.icns", append_images=[images[s] for s in (16, 32, 64, 128, 256, 512)])
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "icons")
