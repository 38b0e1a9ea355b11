"""Closing the window with runs that were never saved: the user is asked, and can save them all, discard
them, or keep the window open."""
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from vae_studio.core.checkpoint import load_run
from vae_studio.ui.main_window import MainWindow
from vae_studio.app.workspace import Workspace

from .helpers import small_data, trained_run

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
Button = QMessageBox.StandardButton


@pytest.fixture
def window_with_runs(qtbot, monkeypatch):
    monkeypatch.setattr(MainWindow, "ask_about_unsaved", True)
    data = small_data()
    workspace = Workspace()
    workspace.set_data(data)
    w = MainWindow(workspace=workspace, load_default_data=False)
    qtbot.addWidget(w)
    w.show()
    runs = [trained_run(data, beta=1.0, name="run 1"), trained_run(data, beta=4.0, name="run 2")]
    runs = [workspace.add_run(r) for r in runs]
    asked = []

    def answer_with(button):
        def fake_exec(box):
            asked.append(box.text())
            return button
        monkeypatch.setattr(QMessageBox, "exec", fake_exec)

    yield w, runs, asked, answer_with
    monkeypatch.setattr(MainWindow, "ask_about_unsaved", False)
    w.close()


def test_cancel_keeps_the_window_and_its_runs(window_with_runs):
    w, runs, asked, answer_with = window_with_runs
    answer_with(Button.Cancel)
    assert not w.close()
    assert w.isVisible() and w.workspace.runs == runs
    assert "2 runs are not saved (run 1, run 2)" in asked[0]


def test_save_all_writes_each_run_into_the_chosen_folder(window_with_runs, tmp_path, monkeypatch):
    w, runs, asked, answer_with = window_with_runs
    answer_with(Button.Save)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "saved"))
    assert w.close()
    folders = sorted((tmp_path / "saved").iterdir())
    assert [p.name for p in folders] == ["small-vae-mlp-z4-beta1-bce", "small-vae-mlp-z4-beta4-bce"]
    loaded = load_run(folders[1])
    assert loaded.config.train.beta == 4.0 and loaded.history.epochs == runs[1].history.epochs
    assert str(folders[0]) in w.recent_runs()


def test_save_all_then_cancelling_the_folder_keeps_the_window(window_with_runs, monkeypatch):
    w, runs, asked, answer_with = window_with_runs
    answer_with(Button.Save)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    assert not w.close()
    assert w.isVisible()


def test_discard_closes_and_saved_runs_are_not_asked_about(window_with_runs, tmp_path):
    w, runs, asked, answer_with = window_with_runs
    assert w.save_runs_into(runs[:1], str(tmp_path))
    assert w.unsaved_runs() == runs[1:]
    answer_with(Button.Discard)
    assert w.close()
    assert "1 run is not saved (run 2)" in asked[0]
    assert not any(p.name.endswith("beta4-bce") for p in tmp_path.iterdir())


def test_a_bookmark_added_to_a_saved_run_is_asked_about_and_saved_into_its_own_folder(window_with_runs, tmp_path,
                                                                                       monkeypatch):
    from vae_studio.core.explorer_state import Bookmark

    w, runs, asked, answer_with = window_with_runs
    assert w.save_runs_into(runs, str(tmp_path))
    assert w.unsaved_runs() == []
    folder = runs[0].folder
    mark = w.workspace.add_bookmark(runs[0], Bookmark.of("smile", [0.5] * 4))
    assert w.unsaved_runs() == [runs[0]]
    w.workspace.remove_bookmark(runs[0], mark.name)  # back to what was saved: nothing to ask
    assert w.unsaved_runs() == []
    w.workspace.add_bookmark(runs[0], Bookmark.of("smile", [0.5] * 4))
    answer_with(Button.Save)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: pytest.fail("no folder to ask for"))
    assert w.close()
    assert "1 run is not saved (run 1)" in asked[0]
    assert [b.name for b in load_run(folder).explorer.bookmarks] == ["smile"]
