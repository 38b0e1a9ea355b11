"""The Qt application the GUI benchmarks run: made as ``vae-studio`` makes it (names, icon, the cycle
collector in the GUI thread), with its settings in a fresh temporary folder, so a run is a first launch and
never touches the user's settings."""
from __future__ import annotations

import sys
import tempfile


def benchmark_application():
    from PySide6.QtCore import QSettings

    settings_dir = tempfile.mkdtemp(prefix="vae-studio-bench-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from vae_studio.ui.app import setup_application

    return setup_application(sys.argv[:1])
