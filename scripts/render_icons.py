"""Render the application icon (resources/vae-studio.svg) to PNGs at the usual sizes.

Usage: ``python scripts/render_icons.py`` writes ``resources/icons/vae-studio-<size>.png`` for each size in
``vae_studio.resource_paths.ICON_SIZES``. Rerun it after editing the SVG; the output is deterministic
(same bytes on the same Qt).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the checkout's vae_studio, whether or not it is installed

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from vae_studio.resource_paths import ICON_SIZES  # noqa: E402

RESOURCES = REPO / "resources"


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"error: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter wants one)
    svg = RESOURCES / "vae-studio.svg"
    out = RESOURCES / "icons"
    out.mkdir(exist_ok=True)
    for size in ICON_SIZES:
        path = out / f"vae-studio-{size}.png"
        if not render(svg, size).save(str(path), "PNG"):
            raise SystemExit(f"error: could not write {path}")
        print(f"wrote {path.relative_to(RESOURCES.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
