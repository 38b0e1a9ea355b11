"""Fixtures of the GUI tests: a main window on small data, message boxes recorded instead of shown."""
import pytest
from PySide6.QtWidgets import QMessageBox

from vae_studio.app.workspace import Workspace
from vae_studio.ui.main_window import MainWindow

from .helpers import small_data


@pytest.fixture
def make_window(qtbot):
    windows = []

    def make(data=None):
        workspace = Workspace()
        workspace.set_data(data if data is not None else small_data())
        w = MainWindow(workspace=workspace, load_default_data=False)
        qtbot.addWidget(w)
        w.show()
        tp = w.training
        tp.latent.setValue(4)
        tp.hidden.setText("32")
        tp.batch.setValue(32)
        tp.epochs.setValue(1)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        assert w.training.controller.threads_running == 0


@pytest.fixture
def messages(monkeypatch):
    """QMessageBox calls recorded instead of shown (nothing blocks)."""
    seen = []
    for kind in ("warning", "information", "critical", "about"):
        monkeypatch.setattr(QMessageBox, kind, lambda *a, _k=kind, **kw: seen.append((_k, a[2])))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    return seen
