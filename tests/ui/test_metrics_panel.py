"""The metrics panel: comparison table and rate-distortion plot follow the workspace; metrics are computed
in a worker thread on request or when training finishes; bad input gives a message."""
import numpy as np
import pytest

from vae_studio.core.checkpoint import Run
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.training import Trainer
from vae_studio.ui.metrics.panel import MetricsPanel
from vae_studio.ui.metrics.tables import EMPTY_TEXT, METRIC_ROWS, axis_span
from vae_studio.app.workspace import Workspace

from tests.core.helpers import toy_data
from tests.core.test_metrics import factor_data


@pytest.fixture(scope="module")
def data():
    return toy_data(n=300, size=12)


def make_run(data, beta, name, epochs=1):
    cfg = RunConfig(DataConfig(), ModelConfig(latent_dim=3, hidden=[16]),
                    TrainConfig(beta=beta, epochs=epochs, batch_size=50, lr=3e-3))
    t = Trainer(cfg, data)
    t.train()
    return Run(config=cfg, model=t.model, history=t.history, class_names=data.class_names, name=name)


@pytest.fixture(scope="module")
def runs(data):
    return [make_run(data, b, f"beta {b:g}") for b in (1.0, 4.0, 8.0)]


@pytest.fixture
def workspace(qtbot):
    return Workspace()


@pytest.fixture
def panel(qtbot, workspace):
    p = MetricsPanel(workspace)
    qtbot.addWidget(p)  # closed at teardown: closeEvent stops the worker thread
    p.resize(700, 800)
    return p


def test_empty_state_asks_for_a_run(panel):
    assert panel.objectName() == "metricsPanel"
    assert panel.empty_label.isVisibleTo(panel) and panel.empty_label.text() == EMPTY_TEXT
    assert not panel.splitter.isVisibleTo(panel)
    assert len(panel.points.data) == 0


def test_comparison_plot_and_table_hold_one_entry_per_run(panel, workspace, data, runs):
    workspace.set_data(data)
    runs = [workspace.add_run(run) for run in runs]
    assert not panel.empty_label.isVisibleTo(panel)
    assert len(panel.points.data) == 3  # one point per run
    pts = sorted(zip(panel.points.data["x"], panel.points.data["y"]))
    expected = sorted((r.history.last["test_kl"], r.history.last["test_recon"]) for r in runs)
    assert np.allclose(pts, expected)
    assert sorted(label.toPlainText() for label in panel._labels) == ["\u03b2=1", "\u03b2=4", "\u03b2=8"]
    assert panel.compare_table.rowCount() == 3
    assert [panel.compare_table.item(r, 2).text() for r in range(3)] == ["1", "4", "8"]
    assert panel.compare_table.item(0, 4).text() == f"{runs[0].history.last['test_neg_elbo']:.2f}"
    # the selected run (the last added) is highlighted in the plot and the table
    assert len(panel.selected_point.data) == 1
    assert panel.selected_point.data["x"][0] == pytest.approx(runs[2].history.last["test_kl"])
    assert panel.compare_table.selectedIndexes()[0].row() == 2
    # clicking a row selects that run in the workspace
    panel.compare_table.selectRow(0)
    assert workspace.selected is runs[0]
    assert "beta 1" in panel.run_label.text()
    workspace.remove_run(runs[1])
    assert len(panel.points.data) == 2 and panel.compare_table.rowCount() == 2


def test_compute_metrics_runs_in_the_background_and_fills_both_views(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    runs = [workspace.add_run(runs[0])]
    assert "Compute metrics" in panel.metrics_table.item(3, 1).text()  # IWAE not computed yet
    panel.iwae_k.setValue(5)
    with qtbot.waitSignals([panel.metricsReady], timeout=20000,
                           check_params_cbs=[lambda run: run is runs[0]]):
        qtbot.mouseClick(panel.compute_button, pytest.importorskip("PySide6.QtCore").Qt.MouseButton.LeftButton)
    res = panel.metrics_for(runs[0])
    assert res["iwae_k"] == 5 and res["iwae_nll"] <= res["neg_elbo"] + 0.5
    assert panel.metrics_table.item(3, 1).text().startswith(f"{res['iwae_nll']:.2f} nats (K=5)")
    assert panel.metrics_table.item(4, 1).text() == f"{res['active_units']} of 3"
    assert panel.compare_table.item(0, 8).text() == str(res["active_units"])
    assert "no known factors" in panel.metrics_table.item(5, 1).text()  # MIG needs factors
    assert panel.evaluator.running and not panel.evaluator.busy
    # new weights make the cached metrics stale: the table shows dashes again
    panel.auto.setChecked(False)  # (the run's status is "finished": auto would compute again)
    workspace.publish_weights(runs[0])
    assert panel.metrics_for(runs[0]) is None
    assert panel.compare_table.item(0, 8).text() == "\u2014"
    assert "earlier weights" in panel.status.text()


def test_metrics_are_computed_when_training_finishes(qtbot, panel, workspace, data):
    workspace.set_data(data)
    run = make_run(data, 2.0, "fresh")
    run.history.status = "running"
    run = workspace.add_run(run)
    workspace.publish_weights(run)  # an epoch ended: not finished, nothing is computed
    assert not panel.evaluator.busy and not panel.evaluator.running
    run.history.status = "finished"
    panel.iwae_k.setValue(3)
    with qtbot.waitSignal(panel.metricsReady, timeout=20000):
        workspace.publish_weights(run)  # the trainer publishes its final weights
    assert panel.metrics_for(run)["iwae_k"] == 3


def test_disentanglement_shows_for_data_with_factors(qtbot, panel, workspace):
    fdata = factor_data(n=300)
    run = make_run(fdata, 1.0, "bars")
    workspace.set_data(fdata)
    run = workspace.add_run(run)
    panel.iwae_k.setValue(2)
    with qtbot.waitSignal(panel.metricsReady, timeout=20000):
        panel.compute_selected()
    res = panel.metrics_for(run)
    assert 0 <= res["mig"] <= 1
    assert panel.metrics_table.item(5, 1).text().startswith(f"{res['mig']:.3f}  (x ")
    assert panel.compare_table.item(0, 9).text() == f"{res['mig']:.3f}"


def test_a_variant_s_own_terms_are_listed_from_the_last_epoch_then_from_its_metrics(qtbot, panel, workspace, data):
    cfg = RunConfig(DataConfig(), ModelConfig(kind="infovae", latent_dim=3, hidden=[16]),
                    TrainConfig(epochs=1, batch_size=50))
    trainer = Trainer(cfg, data)
    trainer.train()
    workspace.set_data(data)
    panel.auto.setChecked(False)
    run = workspace.add_run(Run(config=cfg, model=trainer.model, history=trainer.history,
                                class_names=data.class_names, name="info"))
    table, last = panel.metrics_table, run.history.last

    def own_rows():
        return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(len(METRIC_ROWS), table.rowCount())}

    assert own_rows() == {"Training loss (infovae)": f"{last['test_total']:.2f} nats",
                          "MMD(q(z), p(z))": f"{last['test_mmd']:.4g}"}
    panel.iwae_k.setValue(2)
    with qtbot.waitSignal(panel.metricsReady, timeout=20000):
        panel.compute_selected()
    res = panel.metrics_for(run)
    assert res["objective"] == "infovae" and own_rows()["MMD(q(z), p(z))"] == f"{res['mmd']:.4g}"
    assert res["mmd"] == pytest.approx(last["test_mmd"], rel=1e-5)  # the same weights and noise
    workspace.add_run(make_run(data, 1.0, "plain"))  # selected: the panel shows it
    assert list(own_rows()) == ["Training loss (vae)"]  # a VAE has no terms of its own


def test_bad_input_gives_a_message_not_a_computation(panel, workspace, data, runs):
    workspace.add_run(runs[0])  # no data set loaded
    assert panel.compute(runs[0]) is False
    assert "Load the data set" in panel.status.text()
    workspace.set_data(toy_data(n=50, size=16))  # another image size
    assert panel.compute(runs[0]) is False
    assert "12x12" in panel.status.text() and "16x16" in panel.status.text()
    assert not panel.evaluator.busy and not panel.evaluator.running


def test_closing_during_a_computation_stops_the_worker(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    workspace.add_run(runs[0])
    panel.iwae_k.setValue(5000)  # long enough to be running when the panel closes
    with qtbot.waitSignal(panel.computationStarted, timeout=20000):
        panel.compute_selected()
    assert panel.evaluator.running
    with qtbot.assertNotEmitted(panel.metricsReady):
        panel.close()  # closeEvent: stop flag, quit, wait
        qtbot.wait(50)
    assert not panel.evaluator.running


def test_several_runs_are_computed_in_request_order(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    entries = [workspace.add_run(run) for run in runs]
    panel.iwae_k.setValue(2)
    ready = []
    panel.metricsReady.connect(ready.append)  # a GUI-thread signal: a plain callable is fine here
    for run in entries:
        assert panel.compute(run)
    qtbot.waitUntil(lambda: len(ready) == 3, timeout=30000)
    assert ready == entries and all(panel.metrics_for(run) is not None for run in entries)


def test_new_weights_cancel_the_run_s_computation_in_flight(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    run = workspace.add_run(runs[0])
    panel.iwae_k.setValue(5000)  # long: still running when the new weights arrive
    with qtbot.waitSignal(panel.computationStarted, timeout=20000):
        panel.compute(run)
    ready = []
    panel.metricsReady.connect(ready.append)
    workspace.publish_weights(run)  # new weights: the metrics being computed are for the old ones
    panel.iwae_k.setValue(2)
    assert panel.compute(run)  # cancels the old request at its next batch, then computes the new one
    qtbot.waitUntil(lambda: bool(ready), timeout=30000)
    qtbot.waitUntil(lambda: not panel.evaluator.busy, timeout=30000)
    assert ready == [run] and panel.metrics_for(run)["iwae_k"] == 2  # for the current weights, once


def test_axis_span_is_never_zero_wide():
    assert axis_span([]) is None and axis_span([np.nan]) is None
    lo, hi = axis_span([33.1204461134558])  # one run: at least +-10% of the value
    assert lo == pytest.approx(33.1204461134558 * 0.9) and hi == pytest.approx(33.1204461134558 * 1.1)
    assert axis_span([2.0]) == (1.0, 3.0)  # small values: at least +-1 nat
    assert axis_span([0.2]) == (0.0, 1.2)  # never below zero when no value is negative
    assert axis_span([40.0, 40.5]) == pytest.approx((36.2, 44.3))  # near-coincident runs: widened
    assert axis_span([5.0, 60.0, np.nan]) == (5.0, 60.0)  # spread-out runs: their own range


# showing the panel: the offscreen platform (tests only) cannot pass a window's minimum size on
SHOWN = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _view_range(panel, qtbot):
    vb = panel.plot.getPlotItem().getViewBox()
    panel.show()
    qtbot.waitUntil(lambda: panel.plot.isVisible())
    vb.autoRange()  # what the "A" button does
    return vb.viewRange()


@SHOWN
def test_rate_distortion_axes_are_readable_with_one_run(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    workspace.add_run(runs[0])
    (x0, x1), (y0, y1) = _view_range(panel, qtbot)
    kl, recon = runs[0].history.last["test_kl"], runs[0].history.last["test_recon"]
    assert x0 < kl < x1 and y0 < recon < y1
    assert x1 - x0 >= 1.0 and y1 - y0 >= 1.0  # not a zero-width range (at least +-1 nat, clipped at 0)
    ticks = panel.plot.getPlotItem().getAxis("bottom").tickValues(x0, x1, 400)
    assert all(spacing >= 0.01 for spacing, _values in ticks)  # no "15.50315721411442"-style ticks


@SHOWN
def test_rate_distortion_axes_fit_several_runs(qtbot, panel, workspace, data, runs):
    workspace.set_data(data)
    for run in runs:
        workspace.add_run(run)
    (x0, x1), (y0, y1) = _view_range(panel, qtbot)
    for run in runs:
        assert x0 < run.history.last["test_kl"] < x1 and y0 < run.history.last["test_recon"] < y1
