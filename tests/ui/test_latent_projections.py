"""t-SNE and UMAP views in the latent explorer: computed in the background, labelled approximate, and the
probe dragged on them decodes the inverse-distance-weighted lift of its nearest embedded points."""
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from vae_studio.app.explorer import DIMS, PCA_MODE, TSNE_MODE
from vae_studio.core import embedding as emb
from vae_studio.core.embedding import idw_lift
from vae_studio.core.latent import decode, to_uint8

from .test_latent_panel import drag, make_panel, no_mouse_rate_limit, trained, view_pos  # noqa: F401

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")
TIMEOUT = 60_000


def choose(panel, mode):
    combo = panel.axes_bar.projection
    combo.setCurrentIndex(combo.findData(mode))


def test_tsne_view_is_labelled_approximate_and_the_dragged_probe_decodes_its_lifted_vector(
        make_panel, qtbot, no_mouse_rate_limit):
    pytest.importorskip("openTSNE")
    workspace, panel = make_panel()
    job = panel.embedding_job
    assert not panel.axes_bar.approximate.isVisible()
    with qtbot.waitSignal(job.fitted, timeout=TIMEOUT):
        choose(panel, TSNE_MODE)
        assert job.isVisible()  # progress and Cancel while it computes
    assert not job.isVisible()
    ex = panel.explorer
    assert panel.projection_mode() == TSNE_MODE
    assert panel.axes_bar.approximate.isVisible()
    assert "approximate" in panel.scatter.getPlotItem().getAxis("bottom").labelText
    np.testing.assert_allclose(panel.scatter.points(), ex.embedding.xy)
    assert len(panel.scatter.points()) == ex.point_count

    plot = panel.scatter
    plot.scene().minDragTime = 0
    plot.plotItem.vb.autoRange()
    xy = ex.embedding.xy
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    start, end = (x0 + 0.3 * (x1 - x0), y0 + 0.4 * (y1 - y0)), (x0 + 0.7 * (x1 - x0), y0 + 0.6 * (y1 - y0))
    panel.move_probe(*start)
    a, b = view_pos(plot, *start), view_pos(plot, *end)
    with qtbot.waitSignal(workspace.probeChanged, timeout=10_000):
        drag(plot, [a + (b - a) * (k / 8) for k in range(9)])
    x, y = plot.probe_pos()
    assert (x, y) == pytest.approx(end, rel=0.05, abs=0.05 * (x1 - x0))
    assert panel.probe_bar.x_spin.value() == pytest.approx(x, abs=1e-3)
    # the probe's vector is the weighted mean of the latent means of the embedded points nearest to it
    lifted = idw_lift(xy, ex.mu, (x, y))
    np.testing.assert_allclose(workspace.probe, lifted, rtol=1e-5, atol=1e-5)
    model = workspace.decode_model()
    np.testing.assert_array_equal(panel.probe_image(), to_uint8(decode(model, workspace.probe[None]))[0, ..., 0])

    # back to an exact view: the approximate label goes away
    choose(panel, PCA_MODE)
    assert panel.projection_mode() == PCA_MODE
    assert not panel.axes_bar.approximate.isVisible()


def test_cancelling_a_tsne_view_goes_back_to_the_exact_view(make_panel, qtbot, monkeypatch):
    pytest.importorskip("openTSNE")
    workspace, panel = make_panel()
    started = []

    def slow_fit(state, latents, method, seed=0):  # stands for a long fit: waits for the cancel
        started.append(method)
        while not state.is_cancelled():
            state.set_progress(0.5)
            time.sleep(0.01)
        return None

    monkeypatch.setattr("vae_studio.ui.latent.embedding_job.fit_embedding", slow_fit)
    choose(panel, TSNE_MODE)
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    assert panel.embedding_job.isVisible()
    with qtbot.waitSignal(panel.embedding_job.fitter.busyChanged, timeout=5000):
        panel.embedding_job.cancel_button.click()
    assert not panel.embedding_job.isVisible()
    assert panel.projection_mode() == DIMS
    assert panel.axes_bar.projection.currentData() == DIMS


def test_without_the_package_the_panel_says_how_to_install_it(make_panel, monkeypatch):
    workspace, panel = make_panel()
    monkeypatch.setitem(emb.METHODS, "umap", ("UMAP", "no_such_module_for_vae_studio", "umap-learn"))
    said = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: said.append(a[2]))
    choose(panel, "umap")
    assert said and "pip install 'vae-studio[projections]'" in said[0]
    assert panel.projection_mode() == DIMS
    assert not panel.embedding_job.isVisible()
