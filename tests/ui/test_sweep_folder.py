"""File > Open sweep folder: every run of a sweep joins the session and the metrics panel compares them; runs
of a sweep still running join as their trials finish."""
import pytest
from PySide6.QtWidgets import QFileDialog

from vae_studio.core.checkpoint import save_run
from vae_studio.core.metrics import evaluate_run
from vae_studio.core.ray_sweep import storable_metrics

from .helpers import action, trained_run

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen only


def names(w):
    return sorted(r.name for r in w.workspace.runs)


def test_open_sweep_folder_brings_its_runs_and_watches_for_new_ones(make_window, qtbot, tmp_path, monkeypatch,
                                                                   messages):
    w = make_window()
    data = w.workspace.data
    sweep = tmp_path / "sweep"
    first = trained_run(data, beta=1.0, name="beta-1")
    t = first.config.train
    first.metrics = storable_metrics(evaluate_run(first.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma,
                                                  iwae_k=3), data.name)  # as a Ray trial saves it
    save_run(first, sweep / "beta-1")
    save_run(trained_run(data, beta=4.0, name="beta-4"), sweep / "beta-4")
    (sweep / ".beta-8.saving").mkdir()  # a trial saving right now: not a run yet
    (sweep / "results.csv").write_text("beta\n1\n4\n")

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(sweep))
    action(w, "Open sweep folder…").trigger()
    qtbot.waitUntil(lambda: names(w) == ["beta-1", "beta-4"], timeout=10_000)
    assert not messages
    panel = w.metrics_panel
    by_name = {r.name: r for r in w.workspace.runs}
    assert panel.metrics_for(by_name["beta-1"])["iwae_nll"] == pytest.approx(first.metrics["iwae_nll"])
    w.docks["metrics"].raise_()  # the metrics tab fills when chosen
    qtbot.waitUntil(lambda: panel.compare_table.rowCount() == 2, timeout=5_000)
    table_names = sorted(panel.compare_table.item(r, 0).text() for r in range(2))
    assert table_names == ["beta-1", "beta-4"]
    assert len(panel.plotted_runs()) == 2  # both points in the rate-distortion plot

    # the sweep goes on: a trial finishes and its run appears, once
    save_run(trained_run(data, beta=8.0, name="beta-8"), sweep / "beta-8")
    qtbot.waitUntil(lambda: names(w) == ["beta-1", "beta-4", "beta-8"], timeout=10_000)
    qtbot.wait(2500)  # another poll finds nothing new
    assert names(w) == ["beta-1", "beta-4", "beta-8"] and not messages


def test_a_damaged_run_in_a_sweep_is_reported_and_the_others_open(make_window, qtbot, tmp_path, messages):
    w = make_window()
    sweep = tmp_path / "sweep"
    save_run(trained_run(w.workspace.data, beta=2.0, name="beta-2"), sweep / "beta-2")
    (sweep / "beta-3").mkdir()
    (sweep / "beta-3" / "config.json").write_text("not json")
    w.open_sweep_folder(str(sweep))
    qtbot.waitUntil(lambda: names(w) == ["beta-2"], timeout=10_000)
    qtbot.waitUntil(lambda: "beta-3" in w.statusBar().currentMessage(), timeout=5_000)
