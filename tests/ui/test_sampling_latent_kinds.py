"""The sampling panel's tools for other latent kinds, through the widgets: "Fit prior" for a VQ-VAE (in the
background, with its curve; the run samples at once and counts as unsaved until saved), and a hierarchical
VAE's "fix the top level per row" grid."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from tests.ui.latent_kinds import fresh, small_runs
from vae_studio.app.workspace import Workspace
from vae_studio.core.checkpoint import save_run
from vae_studio.core.latent import sample_prior
from vae_studio.core.latent_space import fixed_top_rows
from vae_studio.ui.sampling.panel import SamplingPanel

TIMEOUT = 60_000


@pytest.fixture(scope="module")
def runs():
    return small_runs()


@pytest.fixture
def panel(qtbot):
    workspace = Workspace()
    p = SamplingPanel(workspace)
    qtbot.addWidget(p)
    yield p
    p.shutdown()


def test_fit_prior_in_the_background_then_sample_at_once(qtbot, runs, panel, tmp_path):
    data, by_name = runs
    workspace = panel.workspace
    workspace.set_data(data)
    entry = workspace.add_run(fresh(by_name["vq"]))
    box = panel.prior_fit
    assert box.isVisibleTo(panel) and "no prior" in box.explain.text()
    assert panel.images is None and "no prior yet" in panel.grid.caption.text()
    box.epochs.setValue(2)
    with qtbot.waitSignal(box.fitted, timeout=TIMEOUT):
        qtbot.mouseClick(box.fit_button, Qt.MouseButton.LeftButton)
        assert box.fitting and not box.fit_button.isEnabled()
    assert [r.epoch for r in box.records] == [1, 2]  # one point of the curve per epoch
    assert np.isfinite(box.test_curve.getData()[1]).all() and len(box.test_curve.getData()[1]) == 2
    assert "Fitted" in box.status.text() and "replace" in box.explain.text()
    # sampling works at once, from the fitted prior, at the chosen temperature
    assert panel.images is not None and "fitted prior at temperature 1" in panel.grid.caption.text()
    model = workspace.decode_model()
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 64, 1.0, 0))
    panel.temperature.setValue(0.5)
    assert "temperature 0.5" in panel.grid.caption.text()
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 64, 0.5, 0))
    panel.temperature.setValue(0.0)  # the code prior needs T > 0: said where the samples would be
    assert panel.images is None and "above 0" in panel.grid.caption.text()
    # the prior is the run's until it is saved with it
    assert entry.run.prior_unsaved
    save_run(entry.run, tmp_path / "vq")
    assert not entry.run.prior_unsaved and (tmp_path / "vq" / "code_prior.safetensors").exists()


def test_a_gaussian_model_has_no_prior_to_fit_and_no_levels(qtbot, panel):
    data, by_name = small_runs(("vae",))
    panel.workspace.set_data(data)
    panel.workspace.add_run(by_name["vae"])
    assert not panel.prior_fit.isVisibleTo(panel) and not panel.fixed_top.isVisibleTo(panel)
    panel.fixed_top.setChecked(True)  # ignored by a model without levels
    assert "samples, z ~ N(0, 1² I)" in panel.grid.caption.text()


def test_fixed_top_rows_share_their_top_level_and_resample_below(qtbot, runs, panel):
    data, by_name = runs
    panel.workspace.set_data(data)
    panel.workspace.add_run(by_name["h"])
    assert panel.fixed_top.isVisibleTo(panel) and not panel.prior_fit.isVisibleTo(panel)
    panel.set_grid_side(4)
    panel.seed.setValue(3)
    panel.fixed_top.setChecked(True)
    assert "each row keeps one draw of the top level" in panel.grid.caption.text()
    model = panel.workspace.decode_model()
    assert torch.allclose(torch.from_numpy(panel.images), fixed_top_rows(model, 4, 4, 1.0, 3))
    z = panel.latents.reshape(4, 4, -1)  # the top-level value of each sample, row by row
    assert (z == z[:, :1]).all()  # shared along a row
    assert not np.allclose(z[0, 0], z[1, 0])  # another draw on the next row
    images = panel.images.reshape(4, 4, -1)
    assert not np.allclose(images[0, 0], images[0, 1])  # the lower level resampled along a row
    panel.fixed_top.setChecked(False)
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 16, 1.0, 3))
