"""A VQ-VAE and a hierarchical VAE in the panels, through the widgets: the explorer scatters each model's own
coordinates and its probe decodes them; the sampling grid samples a hierarchical VAE's prior, and says plainly
that a VQ-VAE without a fitted prior cannot sample, then samples once the prior is there."""
import numpy as np
import pytest
import torch

from tests.ui.latent_kinds import small_runs
from vae_studio.app.workspace import Workspace
from vae_studio.core.code_prior import CodePrior, fit_code_prior
from vae_studio.core.latent import decode, sample_prior, to_uint8
from vae_studio.core.latent_space import space_for
from vae_studio.ui.latent.panel import LatentPanel
from vae_studio.ui.sampling.panel import SamplingPanel

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def runs():
    return small_runs()


@pytest.mark.parametrize("name", ["vq", "h"])
def test_the_explorer_scatters_the_models_own_coordinates_and_decodes_its_probe(qtbot, runs, name):
    data, by_name = runs
    run = by_name[name]
    workspace = Workspace()
    panel = LatentPanel(workspace)
    qtbot.addWidget(panel)
    try:
        workspace.set_data(data)
        with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
            workspace.add_run(run)
        model = workspace.decode_model()
        dim = space_for(model).dim
        assert panel.explorer.dim == dim and panel.explorer.mu.shape == (len(data.test_x), dim)
        workspace.set_probe(panel.explorer.mu[0])
        expected = to_uint8(decode(model, panel.explorer.probe[None]))[0]
        assert np.array_equal(panel.probe_image().reshape(expected.shape), expected)
    finally:
        panel.close()


def test_sampling_says_plainly_that_a_vq_vae_needs_its_prior_then_samples_with_it(qtbot, runs):
    data, by_name = runs
    run = by_name["vq"]
    workspace = Workspace()
    panel = SamplingPanel(workspace)
    qtbot.addWidget(panel)
    try:
        workspace.set_data(data)
        workspace.add_run(run)
        assert panel.images is None and "no prior yet" in panel.grid.caption.text()
        events = list(fit_code_prior(run.model, data, epochs=1, seed=0))
        run.code_prior = events[-1]
        assert isinstance(run.code_prior, CodePrior)
        workspace.publish_weights(workspace.selected)  # as the GUI does when a run's files change
        panel.redraw_grid()
        assert panel.images is not None and panel.images.shape[0] == 64
        assert "fitted prior" in panel.grid.caption.text()
        assert torch.allclose(torch.from_numpy(panel.images), sample_prior(workspace.decode_model(), 64, 1.0, 0))
    finally:
        run.code_prior = None
        panel.shutdown()


def test_sampling_a_hierarchical_vae_draws_its_top_level_and_goes_down(qtbot, runs):
    data, by_name = runs
    workspace = Workspace()
    panel = SamplingPanel(workspace)
    qtbot.addWidget(panel)
    try:
        workspace.set_data(data)
        workspace.add_run(by_name["h"])
        model = workspace.decode_model()
        assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 64, 1.0, 0))
        assert "z2 ~ N(0" in panel.grid.caption.text()
    finally:
        panel.shutdown()
