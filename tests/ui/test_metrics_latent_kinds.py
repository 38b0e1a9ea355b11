"""The metrics panel's rows follow the selected run's latent space, through the widgets: a VQ-VAE gets
reconstruction, codebook perplexity, codes in use and its prior's NLL (no ELBO is claimed); a hierarchical VAE
gets -ELBO, the IWAE bound and active units per level; a Gaussian VAE keeps the rows it had."""
import pytest

from tests.ui.latent_kinds import fresh, small_runs
from vae_studio.app.workspace import Workspace
from vae_studio.core.code_prior import CodePrior, fit_code_prior
from vae_studio.ui.metrics.panel import MetricsPanel
from vae_studio.ui.metrics.tables import METRIC_ROWS

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def runs():
    return small_runs(("vq", "h", "vae"))


@pytest.fixture
def panel(qtbot, runs):
    workspace = Workspace()
    p = MetricsPanel(workspace)
    qtbot.addWidget(p)
    p.iwae_k.setValue(3)
    workspace.set_data(runs[0])
    yield p
    p.shutdown()


def rows(panel) -> dict:
    t = panel.metrics_table
    return {t.item(r, 0).text(): t.item(r, 1).text() for r in range(t.rowCount())}


def compute(qtbot, panel):
    with qtbot.waitSignal(panel.metricsReady, timeout=TIMEOUT):
        panel.compute_button.click()
    return panel.metrics_for(panel.workspace.selected)


def test_a_vq_vae_gets_codebook_and_prior_rows_and_no_elbo(qtbot, panel, runs):
    data, by_name = runs
    entry = panel.workspace.add_run(fresh(by_name["vq"]))
    shown = rows(panel)
    assert list(shown)[:5] == ["Reconstruction", "Codebook perplexity", "Codes in use", "Prior NLL",
                               "Prior NLL per code"]
    assert not any("ELBO" in label or "IWAE" in label or "MIG" in label for label in shown)
    t = panel.metrics_table
    labels = [t.item(r, 0).text() for r in range(t.rowCount())]
    assert labels.count("Codebook perplexity") == 1 and any("Commitment" in x for x in labels)  # own terms stay
    last = entry.history.last
    assert shown["Reconstruction"] == f"{last['test_recon']:.2f} nats"  # from the last epoch until computed
    assert "Prior NLL" in panel.status.text() and "Compute metrics" in shown["Prior NLL"]
    res = compute(qtbot, panel)
    shown = rows(panel)
    assert shown["Codebook perplexity"] == f"{res['perplexity']:.1f}"
    assert shown["Codes in use"] == f"{res['codes_in_use']} of 8"
    t = panel.compare_table  # the compare row shows a dash for what a VQ-VAE has not, not Python's None
    assert "None" not in [t.item(0, c).text() for c in range(t.columnCount())]
    assert shown["Prior NLL"].startswith("n/a: no prior fitted")
    prior = [e for e in fit_code_prior(entry.model, data, epochs=1) if isinstance(e, CodePrior)][0]
    panel.workspace.set_code_prior(entry, prior)  # as Fit prior does: the metrics are then for earlier weights
    res = compute(qtbot, panel)
    shown = rows(panel)
    assert shown["Prior NLL"] == f"{res['prior_nll']:.2f} nats per image"
    assert shown["Prior NLL per code"] == f"{res['prior_bits_per_code']:.3f} bits per code"


def test_a_hierarchical_vae_gets_elbo_iwae_and_active_units_per_level(qtbot, panel, runs):
    panel.workspace.add_run(runs[1]["h"])
    labels = list(rows(panel))
    assert labels[:6] == ["Negative ELBO", "Reconstruction", "KL (rate)", "IWAE NLL", "Active units",
                          "KL per dimension"]
    assert "MIG" not in labels
    res = compute(qtbot, panel)
    shown = rows(panel)
    assert shown["IWAE NLL"].startswith(f"{res['iwae_nll']:.2f} nats (K=3)")
    per = res["active_units_per_level"]
    assert shown["Active units"].endswith(f"per level: z1 {per[0]} of 3, z2 {per[1]} of 2)")


def test_a_gaussian_vae_keeps_its_rows_after_another_kind(qtbot, panel, runs):
    panel.workspace.add_run(runs[1]["vq"])
    panel.workspace.add_run(runs[1]["vae"])
    labels = list(rows(panel))
    assert labels[:len(METRIC_ROWS)] == [label for label, _, _ in METRIC_ROWS]
    assert "Codebook perplexity" not in labels
