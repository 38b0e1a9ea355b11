"""Render docs/explorer.png: the window at 1366x768 with the demo run, the probe moved along a class direction
(heart minus square) and its nearest test images shown. Offscreen, with settings in a temporary folder.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot_explorer.py [OUT.png]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "explorer.png"
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from vae_studio.ui.app import setup_application

    app = setup_application([sys.argv[0]])
    from vae_studio.ui.main_window import MainWindow

    w = MainWindow()
    w.resize(1366, 768)
    w.show()

    def spin(seconds: float, until=None) -> None:
        t0 = time.time()
        while time.time() - t0 < seconds and not (until and until()):
            app.processEvents()
            time.sleep(0.02)

    spin(60, lambda: w.workspace is not None and w.workspace.selected is not None and w.latent_panel is not None and w.latent_panel.explorer.point_count)
    spin(2)
    tools = w.latent_panel.tools
    d = tools.directions
    tools.tabs.setCurrentWidget(d)
    d.class_a.setCurrentIndex(max(d.class_a.findText("heart"), 0))
    d.class_b.setCurrentIndex(max(d.class_b.findText("square"), 0))
    d.add_button.click()
    spin(1)
    d.list.setCurrentRow(0)
    d.slider.setValue(int(d.slider.maximum() * 0.6))
    d.slider.sliderReleased.emit()
    spin(3)
    out.parent.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out))
    print(f"wrote {out}")
    w.close()
    spin(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
