"""The main window: panels, layout kept between starts, menus, decode device, status bar, run folders,
closing while a run trains."""
import json

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QWidget

from vae_studio.core.checkpoint import Run, save_run
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig
from vae_studio.core.models import build_model
from vae_studio.ui.main_window import MainWindow
from vae_studio.ui.run_files import same_data

from .helpers import action, open_folder, trained_run

TIMEOUT = 20000
# the offscreen platform (tests only) cannot pass a window's minimum size on; every other warning still fails
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_three_panels_in_resizable_docks(make_window):
    w = make_window()
    for name in ("trainingPanel", "latentPanel", "samplingPanel", "metricsPanel"):
        panel = w.findChild(QWidget, name)
        assert panel is not None, name
        assert isinstance(panel.parent(), QDockWidget) or isinstance(panel.parent().parent(), QDockWidget)
    assert {d.objectName() for d in w.docks.values()} == {"trainingDock", "latentDock", "samplingDock",
                                                          "metricsDock"}


def test_layout_and_geometry_come_back_at_next_start(make_window, qtbot, monkeypatch):
    w = make_window()
    w.resize(2000, 1150)
    w.docks["sampling"].hide()
    geometry = w.saveGeometry()
    w.close()
    # the offscreen screen is 800x800, smaller than the window: Qt shrinks a restored geometry to fit it,
    # so check that the saved geometry is what the next window hands to Qt
    restored = []
    original = MainWindow.restoreGeometry
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, g: restored.append(g) or original(self, g))
    w2 = make_window()
    assert restored == [geometry]
    assert not w2.docks["sampling"].isVisible() and w2.docks["latent"].isVisible()
    w2.reset_layout()
    assert all(d.isVisible() for d in w2.docks.values())


def test_decode_device_selector(make_window):
    w = make_window()
    combo = w.decode_combo
    assert combo.isEnabled() and combo.currentData() == "cpu"
    if not torch.cuda.is_available():
        i = combo.findData("cuda")
        assert not combo.model().item(i).isEnabled()
        assert "no CUDA" in combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert "Decoding on: cpu" in w.status_labels["decode"].text()
    w.workspace.decode_device = "elsewhere"  # so that choosing the CPU is a change
    combo.activated.emit(combo.findData("cpu"))
    assert w.workspace.decode_device == "cpu"


def test_a_status_message_gets_the_whole_bar_but_the_state(make_window, qtbot):
    """At 1366x768 the data, model and device labels left a message a third of the bar: the demo run's "drag the
    probe in the latent explorer" was cut off. While a message shows they step aside; the state stays."""
    w = make_window()
    w.resize(1229, 691)
    labels, bar = w.status_labels, w.statusBar()
    action(w, "New run").trigger()
    assert bar.currentMessage().startswith("New run")
    assert not labels["data"].isVisible() and not labels["model"].isVisible() and labels["state"].isVisible()
    width = bar.fontMetrics().horizontalAdvance(bar.currentMessage())
    assert width < labels["state"].geometry().left()  # the whole message fits left of the state
    bar.clearMessage()
    assert labels["data"].isVisible() and labels["model"].isVisible()


def test_status_bar_names_data_model_device_and_state(make_window, qtbot):
    w = make_window()
    labels = w.status_labels
    assert "small" in labels["data"].text() and "270 train" in labels["data"].text()
    assert labels["model"].text() == "Model: none yet"
    assert "CPU" in labels["train"].text()
    assert labels["state"].text() == "State: idle"
    w.training.epochs.setValue(10000)
    qtbot.mouseClick(w.training.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "training epoch" in labels["state"].text(), timeout=TIMEOUT)
    assert "run 1" in labels["model"].text() and "z=4" in labels["model"].text()
    qtbot.mouseClick(w.training.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: labels["state"].text() == "State: paused", timeout=TIMEOUT)
    qtbot.mouseClick(w.training.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: labels["state"].text() == "State: stopped", timeout=TIMEOUT)


def test_closing_the_window_mid_run_stops_it_cleanly(make_window, qtbot):
    w = make_window()
    tp = w.training
    tp.epochs.setValue(10000)
    with qtbot.waitSignal(tp.stepsReceived, timeout=TIMEOUT):
        qtbot.mouseClick(tp.start_button, Qt.MouseButton.LeftButton)
    run = w.workspace.runs[0]
    assert tp.controller.threads_running == 1
    w.close()  # must not warn (pytest-qt fails the test on any Qt warning) nor leave the thread running
    assert tp.controller.threads_running == 0
    assert run.history.status == "stopped"
    assert run.history.steps and run in w.workspace.runs  # what was trained is kept


def test_a_saved_run_reopens_with_the_same_history(make_window, qtbot, tmp_path, monkeypatch, messages):
    w = make_window()
    tp = w.training
    with qtbot.waitSignal(tp.runFinished, timeout=TIMEOUT):
        qtbot.mouseClick(tp.start_button, Qt.MouseButton.LeftButton)
    run = w.workspace.runs[0]
    folder = tmp_path / "saved"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(folder), ""))
    action(w, "Save run as…").trigger()
    assert (folder / "config.json").is_file()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(w.workspace.runAdded, timeout=TIMEOUT):
        action(w, "Open run folder…").trigger()
        assert len(w.workspace.runs) == 1  # the folder is read in the background: the window goes on meanwhile
    assert messages == []
    assert len(w.workspace.runs) == 2
    reopened = w.workspace.runs[1]
    assert w.workspace.selected is reopened
    assert reopened.history.steps == run.history.steps
    assert reopened.history.epochs == run.history.epochs
    assert tp.plot.points(reopened).tolist() == tp.plot.points(run).tolist()
    for k, v in run.model.state_dict().items():
        assert torch.equal(reopened.model.state_dict()[k], v)
    assert w.recent_runs()[0] == str(folder)
    assert any(a.data() == str(folder) for a in w.recent_menu.actions())


@pytest.mark.parametrize("damage", ["bad json", "pickle", "not a run"])
def test_a_damaged_run_folder_gives_a_message(make_window, qtbot, tmp_path, monkeypatch, messages, damage):
    w = make_window()
    folder = tmp_path / "broken"
    save_run(trained_run(w.workspace.data), folder)
    target = folder
    if damage == "bad json":
        (folder / "config.json").write_text("{ this is not json")
    elif damage == "pickle":
        target = folder / "model.pt"
        target.write_bytes(b"\x80\x02}q\x00.")
    else:
        target = tmp_path / "empty"
        target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(target))
    action(w, "Open run folder…").trigger()
    qtbot.waitUntil(lambda: bool(messages), timeout=TIMEOUT)
    assert w.workspace.runs == []
    assert len(messages) == 1 and messages[0][0] == "warning"
    expected = {"bad json": "damaged", "pickle": "never loads pickles", "not a run": "missing"}[damage]
    assert expected in messages[0][1]


def test_opening_a_run_of_another_data_set_loads_that_first(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    config = RunConfig(data=DataConfig(dataset="sprites"), model=ModelConfig(latent_dim=3, hidden=[16], image_size=32))
    run = Run(config=config, model=build_model(config.model), name="sprites run")
    save_run(run, tmp_path / "sprites-run")
    assert not same_data(config.data, w.training.data_config)
    with qtbot.waitSignal(w.workspace.runAdded, timeout=TIMEOUT) as blocker:
        w.open_run_folder(str(tmp_path / "sprites-run"))
        assert w.workspace.runs == []  # not before its data set is there
    assert w.workspace.data.name == "sprites" and w.workspace.data.image_size == 32
    assert blocker.args[0].name == "sprites run"
    assert same_data(w.training.data_config, config.data)
    assert w.training.latent.value() == 3  # its settings are shown, ready to retrain


def test_export_curves_as_png(make_window, qtbot, tmp_path, monkeypatch, messages):
    w = make_window()
    w.workspace.add_run(trained_run(w.workspace.data))
    path = tmp_path / "curves"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    action(w, "Export curves as PNG…").trigger()
    png = tmp_path / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert messages == []
    # the next export dialog opens in the folder of the last one
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _p, _t, start, *a: asked.append(start) or ("", ""))
    action(w, "Export curves as PNG…").trigger()
    assert asked == [str(tmp_path / "loss-curves.png")]


def test_about_names_torch_qt_and_devices(make_window, messages):
    w = make_window()
    action(w, "About VAE Studio").trigger()
    kind, text = messages[0]
    assert kind == "about"
    assert f"PyTorch {torch.__version__}" in text and "Qt 6." in text
    assert "Training device: CPU" in text and "Decode device: cpu" in text


def test_new_run_resets_settings_but_keeps_runs(make_window):
    w = make_window()
    w.workspace.add_run(trained_run(w.workspace.data))
    w.training.beta.setValue(8.0)
    action(w, "New run").trigger()
    assert w.training.beta.value() == 1.0 and len(w.workspace.runs) == 1


def test_recent_runs_survive_a_restart(make_window, qtbot, tmp_path, messages):
    w = make_window()
    folder = save_run(trained_run(w.workspace.data), tmp_path / "r1")
    open_folder(qtbot, w, folder)
    w.close()
    assert json.loads(QSettings().value("runs/recent", type=str)) == [str(folder)]
    w2 = make_window()
    entries = [a for a in w2.recent_menu.actions() if a.data()]
    assert [a.data() for a in entries] == [str(folder)]
    with qtbot.waitSignal(w2.workspace.runAdded, timeout=TIMEOUT):
        entries[0].trigger()
    assert len(w2.workspace.runs) == 1


def test_the_window_fits_a_laptop_screen(make_window, qtbot):
    """1366x768 laptops: the panels side by side must not need a wider window, before or after a run."""
    w = make_window()

    def check():
        qtbot.wait(50)  # let the layouts settle
        assert w.minimumSizeHint().width() <= 1366, w.minimumSizeHint()
        for key in ("latent", "sampling", "metrics"):
            assert w.docks[key].widget().minimumSizeHint().width() <= 600, key
        assert w.training.minimumSizeHint().width() <= 760

    check()
    tp = w.training
    with qtbot.waitSignal(tp.runFinished, timeout=TIMEOUT):
        tp.start()
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=TIMEOUT)
    check()
    # the settings column starts about 340 px wide; the loss plots get the rest and are never cut off
    w.resize(1600, 1000)
    qtbot.wait(50)
    settings_width = tp.splitter.sizes()[0]
    assert 300 <= settings_width <= 380, tp.splitter.sizes()
    plot = tp.plot
    assert plot.glw.width() >= plot.glw.minimumWidth()
    assert plot.glw.ci.geometry().width() <= plot.glw.viewport().width() + 1


def test_panels_behind_another_tab_catch_up_when_shown(make_window, qtbot):
    """New runs and weights while the latent explorer is the tab on top: the sampling and metrics panels,
    tabbed behind it, do not decode or refill for nobody; when their tab is chosen they show the newest
    weights and every run."""
    import numpy as np

    from vae_studio.core.latent import sample_prior

    w = make_window()
    w.docks["latent"].raise_()
    sampling, metrics = w.panels["sampling"], w.panels["metrics"]
    qtbot.waitUntil(lambda: not sampling.when_shown.on_screen and not metrics.when_shown.on_screen)
    first = w.workspace.add_run(trained_run(w.workspace.data, name="first"))
    assert sampling.images is None and sampling.when_shown.holding  # nothing decoded behind the tab
    second = w.workspace.add_run(trained_run(w.workspace.data, beta=4.0, name="second"))
    new = {k: v + 0.5 for k, v in second.model.state_dict().items()}
    second.model.load_state_dict(new)
    w.workspace.publish_weights(second, new)
    assert sampling.images is None
    w.docks["sampling"].raise_()
    qtbot.waitUntil(lambda: sampling.when_shown.on_screen)
    assert not sampling.when_shown.holding
    expected = sample_prior(w.workspace.decode_model(second), 64, sampling.temperature.value(), sampling.seed.value())
    np.testing.assert_allclose(sampling.images, expected.numpy(), atol=1e-6)  # the newest weights
    assert metrics.when_shown.holding
    w.docks["metrics"].raise_()
    qtbot.waitUntil(lambda: metrics.when_shown.on_screen)
    assert [r.name for r in metrics.plotted_runs()] == [first.name, second.name]
