"""Start the desktop application: ``run_app(argv) -> int`` (called by ``vae-studio`` with no arguments).

The window is shown before torch is imported (torch alone takes seconds to import); the data loader
imports it and the built-in sprites in the background while the window is already usable.
"""
from __future__ import annotations

import os
import sys
import time

ORGANISATION = "VAE Studio"
APPLICATION = "VAE Studio"

_T0 = time.perf_counter()


def seconds_since_process_start() -> float:
    """Wall time since this process started (Linux: from /proc; elsewhere: since this module was imported)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _T0


def setup_application(argv: list[str] | None = None):
    """The QApplication (created if there is none) with its names, icon and desktop entry set."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from .. import __version__
    from ..resource_paths import desktop_entry_path, icon_paths
    from .gui_collector import collect_garbage_in_gui_thread

    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    icon = QIcon()
    for path in icon_paths():
        icon.addFile(str(path))
    app.setWindowIcon(icon)
    QGuiApplication.setDesktopFileName(desktop_entry_path().stem)  # lets a taskbar find the entry's icon
    collect_garbage_in_gui_thread()
    return app


def run_app(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer

    app = setup_application(argv)

    from .main_window import MainWindow, configure_pyqtgraph

    configure_pyqtgraph(app)
    window = MainWindow()
    window.show()
    if os.environ.get("VAE_STUDIO_STARTUP_TIMES"):  # for measuring start-up: prints when each stage is ready
        stamp = lambda what: print(f"{what}: {seconds_since_process_start():.2f} s", file=sys.stderr)  # noqa: E731
        QTimer.singleShot(0, lambda: stamp("window shown"))
        window.loader.coreReady.connect(lambda _v: stamp("torch and panels ready"))
        window.training.dataLoaded.connect(lambda _r: stamp("sprites loaded, Start enabled"))
    return app.exec()
