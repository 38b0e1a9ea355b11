"""Shared test setup: Qt runs offscreen, settings go to a temporary place, torch stays small."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

pytest_plugins = ["tests.toy_variants"]  # the toy_variants fixture: test variants in the Model list


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Keep tests away from the user's real QSettings and data folders."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VAE_STUDIO_DATA", raising=False)
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        yield
        return
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture(autouse=True)
def _no_unsaved_question(monkeypatch):
    """Closing a main window with unsaved runs asks what to do in a modal box, which would wait forever in a
    test; tests of that question turn it back on and answer it."""
    import sys

    main_window = sys.modules.get("vae_studio.ui.main_window")
    if main_window is not None:
        monkeypatch.setattr(main_window.MainWindow, "ask_about_unsaved", False)



@pytest.fixture(autouse=True)
def _garbage_collected_in_the_gui_thread(request):
    """As in the app: once Qt is in use, Python's cycle collector runs only in the GUI thread (a collection
    started in a worker thread can destroy Qt objects there and deadlock; see ui/app.py)."""
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    from vae_studio.ui.gui_collector import collect_garbage_in_gui_thread

    collector = collect_garbage_in_gui_thread()
    yield
    collector.check()  # the tests' own event loops may be too short for the timer
