"""The latent explorer's tools for other latent kinds, through the widgets: a hierarchical VAE's level picker
(the scatter's coordinates, the probe's decoding and the traversal follow the level; the levels below held or
resampled) and a VQ-VAE's codebook and code map (swapping a cell's code changes the decoded image at once)."""
import numpy as np
import pytest
import torch

from tests.ui.latent_kinds import small_runs
from vae_studio.app.workspace import Workspace
from vae_studio.core.latent import decode, to_uint8
from vae_studio.core.latent_space import space_for
from vae_studio.ui.latent.panel import LatentPanel

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def runs():
    return small_runs()


@pytest.fixture
def panel(qtbot, runs):
    workspace = Workspace()
    p = LatentPanel(workspace)
    qtbot.addWidget(p)
    workspace.set_data(runs[0])
    yield p
    p.shutdown()


def probe_image(panel):
    """The probe's decoded image as (H, W, C) uint8."""
    img = panel.probe_image()
    return img.reshape(*img.shape[:2], -1)


def open_run(qtbot, panel, run):
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        panel.workspace.add_run(run)
    return panel.workspace.decode_model()


def test_the_level_picker_changes_what_the_scatter_shows_and_how_the_probe_decodes(qtbot, panel, runs):
    model = open_run(qtbot, panel, runs[1]["h"])
    bar = panel.level_bar
    assert bar.isVisibleTo(panel) and bar.level.count() == 2
    assert bar.level.currentIndex() == 1 and panel.explorer.dim == 2  # the top level first
    tabs = panel.tools.tabs
    assert "Codes" not in [tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)]  # Gaussian levels
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        bar.level.setCurrentIndex(0)
    assert panel.explorer.dim == 3 and panel.explorer.mu.shape == (len(runs[0].test_x), 3)
    assert len(panel.traversal.shown_dims()) == 3  # the traversal sweeps this level's dimensions
    assert not bar.lower.isEnabled()  # nothing below the bottom level
    bottom = space_for(model, level=0)
    expected_mu = bottom.encode(runs[0].test_x[:5].float() / 255)[0].numpy()
    assert np.allclose(panel.explorer.mu[:5], expected_mu, atol=1e-5)
    panel.workspace.request_probe(panel.explorer.mu[0])
    assert np.array_equal(probe_image(panel), to_uint8(decode(model, panel.explorer.probe[None], None, bottom))[0])

    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        bar.level.setCurrentIndex(1)
    assert panel.explorer.dim == 2 and bar.lower.isEnabled()
    panel.workspace.request_probe(panel.explorer.mu[0])
    held = probe_image(panel).copy()
    bar.lower.setCurrentIndex(1)  # resampled: same coordinates, the lower level drawn from p(z1 | z2)
    assert panel.explorer.dim == 2 and np.array_equal(panel.explorer.probe, panel.explorer.mu[0])
    resampled = space_for(model, resample_lower=True)
    assert np.array_equal(probe_image(panel), to_uint8(decode(model, panel.explorer.probe[None], None, resampled))[0])
    assert not np.array_equal(probe_image(panel), held)


def test_the_codebook_scatter_and_a_code_swap_that_the_decoded_image_follows(qtbot, panel, runs):
    model = open_run(qtbot, panel, runs[1]["vq"])
    assert not panel.level_bar.isVisibleTo(panel)
    tools, view = panel.tools, panel.tools.codebook
    assert tools.tabs.isTabVisible(0) and tools.tabs.currentWidget() is view
    space = space_for(model)
    usage = torch.bincount(model.codes(runs[0].test_x.float() / 255).flatten(), minlength=model.num_codes)
    assert np.array_equal(view.usage, usage.numpy())
    assert view.unused_count == int((usage == 0).sum())
    assert len(view.used.data) + view.unused_count == model.num_codes

    panel.scatter.pointClicked.emit(4)  # pick a test image: the code map shows its codes
    codes = model.codes(runs[0].test_x[4:5].float() / 255)[0].numpy()
    assert view.map.rowCount() == view.map.columnCount() == model.grid
    assert [[view.map.item(r, c).text() for c in range(model.grid)] for r in range(model.grid)] == \
        [[str(k) for k in row] for row in codes]
    before = panel.probe_image().copy()

    view.map.cellClicked.emit(1, 2)  # the user clicks a cell, then types another code
    new_code = (int(codes[1, 2]) + 1) % model.num_codes
    view.code_spin.setValue(new_code)
    swapped = codes.copy()
    swapped[1, 2] = new_code
    assert view.map.item(1, 2).text() == str(new_code)
    expected = to_uint8(torch.sigmoid(model.decode_codes(torch.from_numpy(swapped)[None])))[0]
    assert np.array_equal(probe_image(panel), expected)
    assert not np.array_equal(panel.probe_image(), before)

    view.map.cellClicked.emit(0, 0)  # another cell, then a click on a code of the codebook scatter
    item = view.used if len(view.used.data) > 1 else view.unused
    other = [p for p in item.points() if p.data() != int(codes[0, 0])][0]
    item.sigClicked.emit(item, [other], None)
    assert view.map.item(0, 0).text() == str(other.data())
    panel.undo_stack.undo()  # Undo puts the cell's code back
    assert view.map.item(0, 0).text() == str(codes[0, 0])
