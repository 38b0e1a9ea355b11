"""What a user does with runs in the window: undo a removal or a rename, Retrain without piling up junk runs,
keyboard shortcuts, Help, dropping a run folder, saving over a run's own folder, reopened runs that are
first-class (metrics kept, names unique, Retrain enabled), and settings that cannot keep the window shut."""
import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from vae_studio.core.checkpoint import load_run, save_run
from vae_studio.core.metrics import evaluate_run
from vae_studio.ui.main_window import SETTINGS_GEOMETRY, SETTINGS_STATE, MainWindow
from vae_studio.ui.run_files import SETTINGS_RECENT

from .helpers import action, open_folder, small_data, trained_run

TIMEOUT = 20000
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def names(w):
    return [r.name for r in w.workspace.runs]


def test_removing_runs_is_undone_and_redone_from_the_edit_menu(make_window):
    w = make_window()
    first = w.workspace.add_run(trained_run(w.workspace.data, name="first"))
    second = w.workspace.add_run(trained_run(w.workspace.data, beta=4.0, name="second"))
    runs_list = w.training.runs
    runs_list.select_runs([first])
    runs_list.remove_button.click()
    assert names(w) == ["second"] and runs_list.tree.topLevelItemCount() == 1
    undo = action(w, "Undo Remove first")
    assert undo.isEnabled()
    undo.trigger()
    assert names(w) == ["first", "second"] and runs_list.tree.topLevelItemCount() == 2
    assert w.workspace.runs[0] is first and first.colour != second.colour  # the same run, not a copy
    assert first.id in w.training.plot.curves
    redo = action(w, "Redo Remove first")
    redo.trigger()
    assert names(w) == ["second"]


def test_renaming_a_run_in_its_row_is_undoable(make_window):
    w = make_window()
    run = w.workspace.add_run(trained_run(w.workspace.data, name="run 1"))
    item = w.training.runs.tree.topLevelItem(0)
    item.setText(0, "beta one")  # what editing the name cell does
    assert run.name == "beta one" and item.text(0) == "beta one"
    action(w, "Undo Rename run 1 to beta one").trigger()
    assert run.name == "run 1" and item.text(0) == "run 1"


def test_retrain_clicked_many_times_keeps_one_run_not_a_pile_of_junk(make_window, qtbot):
    w = make_window(small_data(n=30000))
    tp = w.training
    tp.epochs.setValue(10000)
    tp.batch.setValue(1)  # 27,000 steps in an epoch: every Retrain comes before the first epoch ends
    with qtbot.waitSignal(tp.stepsReceived, timeout=TIMEOUT):
        click(qtbot, tp.start_button)
    for _ in range(4):  # each Retrain stops a run still in its first epoch, which is then replaced
        with qtbot.waitSignal(w.workspace.runAdded, timeout=TIMEOUT):
            click(qtbot, tp.retrain_button)
    last = w.workspace.runs[-1]
    tp.stop()
    qtbot.waitUntil(lambda: tp.controller.threads_running == 0, timeout=TIMEOUT)
    assert w.workspace.runs == [last]
    assert tp.runs.tree.topLevelItemCount() == 1


def test_shortcuts_start_pause_and_stop_training(make_window, qtbot):
    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)  # shortcuts go to the active window
    tp = w.training
    tp.epochs.setValue(10000)
    assert action(w, "Start").shortcut().toString() == "Ctrl+Return"
    with qtbot.waitSignal(tp.stepsReceived, timeout=TIMEOUT):
        qtbot.keyClick(w, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(w, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tp.state == "paused", timeout=TIMEOUT)
    assert tp.pause_button.text() == "Resume"
    qtbot.keyClick(w, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tp.state == "stopped", timeout=TIMEOUT)
    assert action(w, "Retrain").shortcut().toString() == "Ctrl+R"


def test_f1_opens_the_help_page(make_window, qtbot, monkeypatch):
    from vae_studio.ui import help_page

    shown = []
    monkeypatch.setattr(help_page.HelpDialog, "exec", lambda self: shown.append(self.browser.toPlainText()))
    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)  # shortcuts go to the active window
    qtbot.keyClick(w, Qt.Key.Key_F1)
    assert shown and "Latent explorer" in shown[0]


def _drop(w, path):
    """What dragging ``path`` from a file manager onto the window sends: drag-enter, then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(10, 10), *args)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(w, QDropEvent(QPointF(10, 10), *args))


def test_a_run_folder_dropped_on_the_window_opens(make_window, qtbot, tmp_path, messages):
    w = make_window()
    run = trained_run(w.workspace.data, beta=2.0, name="dropped")
    save_run(run, tmp_path / "dropped-run")
    with qtbot.waitSignal(w.workspace.runAdded, timeout=10_000):  # read in the background
        _drop(w, tmp_path / "dropped-run" / "model.safetensors")  # a file inside the folder opens it too
    assert names(w) == ["dropped"] and not messages
    (tmp_path / "not-a-run").mkdir()
    _drop(w, tmp_path / "not-a-run")
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert names(w) == ["dropped"] and "config.json" in messages[-1][1]


def test_reopened_runs_are_first_class(make_window, qtbot, tmp_path, messages):
    w = make_window()
    data = w.workspace.data
    run = trained_run(data, name="run 1")
    t = run.config.train
    run.metrics = dict(evaluate_run(run.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=5),
                       data_name=data.name)
    save_run(run, tmp_path / "saved")
    entry = open_folder(qtbot, w, tmp_path / "saved")
    assert w.training.retrain_button.isEnabled()
    # the metrics computed before saving are shown again (no recomputation needed)
    metrics = w.metrics_panel
    iwae = run.metrics["iwae_nll"]
    assert metrics.metrics_for(entry)["iwae_nll"] == pytest.approx(iwae)
    w.docks["metrics"].raise_()  # the metrics tab fills when chosen
    qtbot.waitUntil(lambda: metrics.when_shown.on_screen)
    assert metrics.metrics_table.item(3, 1).text().startswith(f"{iwae:.2f} nats (K=5)")
    # a new run gets a name no opened run has
    tp = w.training
    with qtbot.waitSignal(tp.runFinished, timeout=TIMEOUT):
        click(qtbot, tp.start_button)
    assert names(w) == ["run 1", "run 2"]
    # Save writes over the run's own folder (no dialog), with its new name
    w.workspace.select_run(entry)
    w.workspace.rename_run(entry, "renamed")
    action(w, "Save run").trigger()
    assert load_run(tmp_path / "saved").name == "renamed" and not messages


@pytest.mark.parametrize("geometry, state, recent", [
    ("not bytes", ["a", "list"], json.dumps([[[[["deep"]]]]] * 3)),
    (b"\x00\x01\x02 garbage", "", "[" * 100_000 + "]" * 100_000),
    (12345, {"a": 1}, json.dumps([f"/runs/{i}" for i in range(200_000)])),
    (QRect(0, 0, 10, 10), "nul\x00bytes", json.dumps(["/a\x00b", 5, None, "/ok"])),
    (b"", b"\x00" * 64, ["not", "a", "string"]),
])
def test_settings_of_the_wrong_type_or_size_never_keep_the_window_shut(qtbot, geometry, state, recent):
    s = QSettings()
    s.setValue(SETTINGS_GEOMETRY, geometry)
    s.setValue(SETTINGS_STATE, state)
    s.setValue(SETTINGS_RECENT, recent)
    s.sync()
    w = MainWindow(load_default_data=False)
    qtbot.addWidget(w)
    w.show()
    assert w.isVisible() and len(w.recent_runs()) <= 8
    w.close()
    s = QSettings()
    assert isinstance(s.value(SETTINGS_GEOMETRY), (bytes, bytearray)) or s.value(SETTINGS_GEOMETRY).size() > 0
    assert len(json.loads(s.value(SETTINGS_RECENT))) <= 8  # written back clean


def test_the_first_launch_opens_the_demo_run(qtbot):
    w = MainWindow()  # as `vae-studio` starts: torch and the sprites load behind the open window
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.workspace is not None and w.workspace.selected is not None, timeout=60000)
    demo = w.workspace.runs[0]
    assert len(w.workspace.runs) == 1 and demo.name.startswith("demo") and w.workspace.selected is demo
    assert demo.folder is None  # saving asks where: nothing overwrites the installed demo
    assert QSettings().value("runs/demoShown", False, type=bool)
    z = torch.zeros(1, demo.config.model.latent_dim)
    assert w.workspace.decode_model(demo).decode(z).shape[-1] == 32
    w.close()


def test_the_same_seed_gives_the_same_run_in_the_window_bit_for_bit(make_window, qtbot):
    """Two Starts with the same settings while the other panels decode, encode and score (their random draws
    must not reach the run): identical weights and losses (issue 11, item 3)."""
    import threading

    stop = threading.Event()

    def other_thread():  # e.g. a sampling grid drawn with torch.randn meanwhile
        while not stop.is_set():
            torch.randn(64)

    w = make_window()
    tp = w.training
    tp.epochs.setValue(2)
    runs = []
    hammer = threading.Thread(target=other_thread, daemon=True)
    hammer.start()
    try:
        for button in (tp.start_button, tp.retrain_button):
            with qtbot.waitSignal(tp.runFinished, timeout=TIMEOUT) as done:
                click(qtbot, button)
            qtbot.waitUntil(lambda: tp.controller.threads_running == 0, timeout=TIMEOUT)
            runs.append(done.args[0])
    finally:
        stop.set()
        hammer.join(5)
    a, b = runs
    assert a is not b and a.history.steps == b.history.steps
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


def test_probe_moves_are_in_the_windows_edit_menu(make_window):
    w = make_window()
    w.workspace.add_run(trained_run(w.workspace.data, name="r"))
    panel = w.latent_panel
    before = panel.probe_vector.copy()
    panel.move_probe(1.0, -1.0)  # what a click on empty space does
    action(w, "Undo Move the probe").trigger()
    np.testing.assert_allclose(panel.probe_vector, before, atol=1e-6)
