"""The latent explorer: scatter of the test split, draggable probe, picking, traversal grid, exports."""
import copy
import threading

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QObject, QPointF, Qt, Slot
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from tests.core.helpers import toy_data
from vae_studio.core.checkpoint import Run
from vae_studio.core.config import RunConfig
from vae_studio.core.latent import decode, encode_dataset, to_uint8
from vae_studio.core.training import Trainer
from vae_studio.ui.latent.layout import EMPTY_TEXT
from vae_studio.ui.latent.panel import LatentPanel
from vae_studio.app.workspace import Workspace
from vae_studio.ui.latent.traversal import INACTIVE_KL
from vae_studio.workers.encoding import encode_split
from vae_studio.workers.tasks import Mode, TaskRunner

SIZE = 16
TIMEOUT = 10_000
# the offscreen platform's note when a window with a minimum size is shown; nothing is wrong
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture(scope="module")
def trained():
    """Tiny trained models shared by the tests (each test wraps them in its own Run copy)."""
    data = toy_data(n=400, size=SIZE, classes=3)
    out = {}
    for name, kind, dim in (("vae4", "vae", 4), ("vae2", "vae", 2), ("cvae", "cvae", 3)):
        c = RunConfig()
        c.model.kind, c.model.hidden, c.model.latent_dim = kind, [32], dim
        c.train.batch_size, c.train.epochs = 32, 2
        t = Trainer(c, data)
        t.train()
        out[name] = (c, t.model, t.history)
    return data, out


def make_run(trained, name="vae4") -> Run:
    data, runs = trained
    c, model, history = runs[name]
    return Run(config=copy.deepcopy(c), model=copy.deepcopy(model), history=copy.deepcopy(history),
               class_names=list(data.class_names), name=name)


@pytest.fixture
def no_mouse_rate_limit():
    """pyqtgraph drops mouse moves closer than 10 ms apart; hand-built events come faster."""
    old = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOptions(mouseRateLimit=-1)
    yield
    pg.setConfigOptions(mouseRateLimit=old)


@pytest.fixture
def make_panel(qtbot, trained):
    panels = []  # qtbot keeps only weak references

    def make(name="vae4", with_run=True):
        data, _ = trained
        workspace = Workspace()
        panel = LatentPanel(workspace)
        qtbot.addWidget(panel)
        panels.append(panel)
        panel.resize(1100, 750)
        panel.show()
        qtbot.waitExposed(panel)
        if with_run:
            workspace.set_data(data)
            with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
                workspace.add_run(make_run(trained, name))
        return workspace, panel

    yield make
    for panel in panels:
        panel.close()  # closeEvent stops the encoding thread
        assert not panel.encoder.running


def mouse(widget, kind, pos: QPointF, button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton):
    ev = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos)), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def view_pos(plot, x: float, y: float) -> QPointF:
    """Viewport pixel position of plot coordinates (x, y)."""
    scene_pt = plot.plotItem.vb.mapViewToScene(QPointF(x, y))
    return QPointF(plot.mapFromScene(scene_pt))


def drag(plot, path: list[QPointF]) -> None:
    """Press at path[0], move through path[1:], release: hand-built mouse events on the plot."""
    vp = plot.viewport()
    left = Qt.MouseButton.LeftButton
    mouse(vp, QMouseEvent.Type.MouseMove, path[0])  # hover first, as a real mouse does
    mouse(vp, QMouseEvent.Type.MouseButtonPress, path[0], left, left)
    for p in path[1:]:
        mouse(vp, QMouseEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, left)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, path[-1], left, Qt.MouseButton.NoButton)


def click(plot, p: QPointF) -> None:
    vp = plot.viewport()
    left = Qt.MouseButton.LeftButton
    mouse(vp, QMouseEvent.Type.MouseMove, p)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, p, left, left)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, p, left, Qt.MouseButton.NoButton)


def lone_point(plot) -> int:
    """Index of a point with no neighbour within 4 px, away from the probe marker (after an auto-range)."""
    plot.plotItem.vb.autoRange()
    px = np.array([[view_pos(plot, *p).x(), view_pos(plot, *p).y()] for p in plot.points()])
    probe_px = np.array([view_pos(plot, *plot.probe_pos()).x(), view_pos(plot, *plot.probe_pos()).y()])
    d = np.linalg.norm(px[:, None] - px[None], axis=2) + np.eye(len(px)) * 1e9
    ok = (d.min(1) > 4) & (np.linalg.norm(px - probe_px, axis=1) > 20)
    return int(np.flatnonzero(ok)[0])


def expected_means(workspace, run):
    data = workspace.data
    return encode_dataset(workspace.decode_model(run), data.test_x, data.test_y).mu


def test_empty_state_asks_for_a_run(make_panel):
    workspace, panel = make_panel(with_run=False)
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.empty_label.text() == EMPTY_TEXT


def test_scatter_shows_one_point_per_test_image_coloured_by_class(make_panel, trained):
    data, _ = trained
    workspace, panel = make_panel()
    assert panel.stack.currentIndex() == 1
    assert panel.scatter.point_count() == len(data.test_x)
    assert len(panel.scatter.legend.items) == len(data.class_names)
    # the points are the means of the selected run's decode model, on the chosen axes
    mu = expected_means(workspace, workspace.selected)
    dx, dy = panel.shown_dims()
    np.testing.assert_allclose(panel.scatter.points(), mu[:, [dx, dy]], atol=1e-5)
    # KL per dimension of the encoding agrees with the trainer's last test record; axes most active first
    np.testing.assert_allclose(panel.explorer.kl, workspace.selected.history.last["test_kl_per_dim"],
                               rtol=1e-3, atol=1e-5)
    combo = panel.axes_bar.x_dim
    kl = [float(combo.itemText(i).split("KL ")[1].rstrip(")")) for i in range(combo.count())]
    assert kl == sorted(kl, reverse=True)


def test_dragging_the_probe_changes_the_image_and_dragging_back_restores_it(
        make_panel, qtbot, no_mouse_rate_limit):
    workspace, panel = make_panel()
    plot = panel.scatter
    plot.scene().minDragTime = 0
    plot.plotItem.vb.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
    panel.move_probe(0.0, 0.0)
    before = panel.probe_image().copy()
    z_before = panel.probe_vector
    start = view_pos(plot, 0.0, 0.0)
    far = view_pos(plot, 2.5, -2.0)
    path = [start + (far - start) * (k / 10) for k in range(11)]
    with qtbot.waitSignal(workspace.probeChanged, timeout=TIMEOUT):
        drag(plot, path)
    moved = panel.probe_image().copy()
    x, y = plot.probe_pos()
    assert x == pytest.approx(2.5, abs=0.05) and y == pytest.approx(-2.0, abs=0.05)
    assert not np.array_equal(moved, before)
    # the image is the decoding of the reported probe vector
    z = workspace.probe
    np.testing.assert_array_equal(z, panel.probe_vector)
    assert z[panel.shown_dims()[0]] == pytest.approx(x)
    model = workspace.decode_model()
    np.testing.assert_array_equal(to_uint8(decode(model, z[None]))[0, ..., 0], moved)
    # the spin boxes show the coordinates
    assert panel.probe_bar.x_spin.value() == pytest.approx(x, abs=1e-3)
    # and back to where it started
    drag(plot, list(reversed(path)))
    np.testing.assert_allclose(panel.probe_vector, z_before, atol=1e-6)
    np.testing.assert_array_equal(panel.probe_image(), before)


def test_typing_coordinates_moves_the_probe(make_panel):
    workspace, panel = make_panel()
    panel.probe_bar.x_spin.setValue(1.25)
    panel.probe_bar.y_spin.setValue(-0.5)
    dx, dy = panel.shown_dims()
    assert panel.scatter.probe_pos() == pytest.approx((1.25, -0.5))
    assert workspace.probe[dx] == pytest.approx(1.25) and workspace.probe[dy] == pytest.approx(-0.5)


def test_clicking_a_data_point_anchors_the_probe_at_its_mean(make_panel, qtbot, trained, no_mouse_rate_limit):
    data, _ = trained
    workspace, panel = make_panel()
    plot = panel.scatter
    i = lone_point(plot)
    xy = plot.points()
    with qtbot.waitSignal(workspace.pointPicked, timeout=TIMEOUT) as picked:
        click(plot, view_pos(plot, *xy[i]))
    assert picked.args == [i]
    assert panel.probe_bar.anchor_label.text() == f"anchor: point #{i}"
    mu = panel.explorer.mu[i]
    np.testing.assert_allclose(panel.probe_vector, mu)
    np.testing.assert_allclose(panel.anchor, mu)
    np.testing.assert_allclose(workspace.probe, mu)
    assert plot.probe_pos() == pytest.approx(tuple(xy[i]), abs=1e-5)
    # the original image beside its reconstruction; the probe decodes to the same reconstruction
    np.testing.assert_array_equal(panel.images.original_pane.data(), data.test_x[i, 0].numpy())
    np.testing.assert_array_equal(panel.images.recon_pane.data(), panel.probe_image())
    # the other dimensions come from the anchor when the probe moves on the shown two
    panel.probe_bar.x_spin.setValue(panel.probe_bar.x_spin.value() + 1.0)
    dx, dy = panel.shown_dims()
    others = [k for k in range(len(mu)) if k not in (dx, dy)]
    np.testing.assert_allclose(panel.probe_vector[others], mu[others])


def test_reset_anchor_zeroes_the_dimensions_off_the_axes_and_keeps_the_probe_on_the_plot(
        make_panel, qtbot, no_mouse_rate_limit):
    workspace, panel = make_panel()
    plot = panel.scatter
    i = lone_point(plot)
    click(plot, view_pos(plot, *plot.points()[i]))
    assert panel.anchor.any() and panel.images.original_pane.data() is not None
    pos = plot.probe_pos()
    with qtbot.waitSignal(workspace.probeChanged, timeout=TIMEOUT):
        panel.probe_bar.reset_anchor.click()
    assert panel.probe_bar.anchor_label.text() == "anchor: origin"
    assert not panel.anchor.any() and panel.images.original_pane.data() is None
    assert plot.probe_pos() == pytest.approx(pos, abs=1e-6)
    dx, dy = panel.shown_dims()
    others = [k for k in range(4) if k not in (dx, dy)]
    assert not workspace.probe[others].any()
    assert workspace.probe[[dx, dy]] == pytest.approx(pos, abs=1e-6)
    model = workspace.decode_model()
    np.testing.assert_array_equal(panel.probe_image(), to_uint8(decode(model, workspace.probe[None]))[0, ..., 0])


def test_many_points_are_drawn_in_chunks_and_all_arrive(qtbot, monkeypatch):
    from vae_studio.ui.latent import scatter as latent_scatter
    from vae_studio.ui.latent.scatter import LatentScatter

    monkeypatch.setattr(latent_scatter, "CHUNK_POINTS", 50)
    plot = LatentScatter()
    qtbot.addWidget(plot)
    xy = np.random.default_rng(0).normal(size=(400, 2))
    labels = np.arange(400) % 3
    with qtbot.waitSignal(plot.pointsDrawn, timeout=TIMEOUT):
        plot.set_points(xy, labels, ["a", "b", "c"])
        assert plot.drawing() and plot.point_count() < 400  # the rest follows on later turns of the loop
    assert not plot.drawing() and plot.point_count() == 400
    for g, got in enumerate(plot.drawn_points()):
        np.testing.assert_allclose(got, xy[labels == g])


def _symbols(item) -> list:
    """The symbol images a ScatterPlotItem paints its points with (one per distinct atlas rectangle)."""
    from PySide6.QtCore import QRect

    rects = sorted({tuple(int(v) for v in r) for r in np.unique(item.data["sourceRect"])})
    return [item.fragmentAtlas.pixmap.copy(QRect(*r)).toImage() for r in rects]


def _plain_twin(item) -> pg.ScatterPlotItem:
    """pyqtgraph's own ScatterPlotItem given the same points and style."""
    return pg.ScatterPlotItem(x=item.data["x"].copy(), y=item.data["y"].copy(), size=item.opts["size"],
                              brush=item.opts["brush"], pen=None, symbol=item.opts["symbol"])


def test_big_scatters_draw_each_point_where_and_as_plain_pyqtgraph_would(qtbot):
    """The fast path (the atlas looked up once per class, several classes per turn of the event loop) puts
    every point at its position, in its class's item, painted with the symbol pyqtgraph itself would use."""
    from vae_studio.ui.latent.scatter import CHUNK_POINTS, LatentScatter

    plot = LatentScatter()
    qtbot.addWidget(plot)
    rng = np.random.default_rng(3)
    n = 2 * CHUNK_POINTS + 321  # more than one turn's worth, classes of very different sizes
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.choice(4, size=n, p=[0.6, 0.3, 0.09, 0.01])
    with qtbot.waitSignal(plot.pointsDrawn, timeout=TIMEOUT):
        plot.set_points(xy, labels, ["a", "b", "c", "d"])
    assert plot.point_count() == n
    for g, got in enumerate(plot.drawn_points()):
        np.testing.assert_array_equal(got, xy[labels == g].astype(np.float64))
    colours = set()
    for item in plot._items:
        plain = _plain_twin(item)
        mine, theirs = _symbols(item), _symbols(plain)
        assert len(theirs) == 1 and all(m == theirs[0] for m in mine)  # every point: the symbol pyqtgraph draws
        colours.add(mine[0].pixel(mine[0].width() // 2, mine[0].height() // 2))
    assert len(colours) == 4  # and each class has its own colour


def test_a_class_item_with_per_point_brushes_falls_back_to_pyqtgraph(qtbot):
    from vae_studio.ui.latent.scatter import ClassScatter

    xy = np.random.default_rng(4).normal(size=(50, 2))
    brushes = [pg.mkBrush(255, 0, 0) if i % 2 else pg.mkBrush(0, 0, 255) for i in range(50)]
    item = ClassScatter(x=xy[:, 0], y=xy[:, 1], size=5, brush=brushes, pen=None, symbol="o")
    plain = pg.ScatterPlotItem(x=xy[:, 0], y=xy[:, 1], size=5, brush=brushes, pen=None, symbol="o")
    for i in range(50):  # each point keeps its own brush's symbol
        a, b = item.data["sourceRect"][i], plain.data["sourceRect"][i]
        assert item.fragmentAtlas.pixmap.copy(*map(int, a)).toImage() == \
            plain.fragmentAtlas.pixmap.copy(*map(int, b)).toImage()


def test_hovering_a_point_shows_its_index_and_class(make_panel, trained, no_mouse_rate_limit):
    data, _ = trained
    workspace, panel = make_panel()
    plot = panel.scatter
    i = 7
    mouse(plot.viewport(), QMouseEvent.Type.MouseMove, view_pos(plot, *plot.points()[i]))
    idx = plot.nearest_point(plot.plotItem.vb.mapViewToScene(QPointF(*plot.points()[i])))
    text = plot.hover_label()
    assert text.startswith(f"#{idx}") and data.class_names[int(data.test_y[idx])] in text


def test_traversal_has_a_row_per_dimension_and_its_middle_column_is_the_probe(make_panel, qtbot):
    workspace, panel = make_panel()
    tv = panel.traversal
    tv.hide_inactive.setChecked(False)
    panel.probe_bar.x_spin.setValue(0.7)
    tv.flush()
    assert tv.rows == [int(d) for d in np.argsort(-panel.explorer.kl, kind="stable")]
    assert tv.images.shape[:2] == (4, 9)
    middle = tv.images[:, 4, ..., 0]
    for r in range(4):
        np.testing.assert_allclose(middle[r].astype(int), panel.probe_image().astype(int), atol=1)
    # rows differ along the sweep, and the labels name the dimension and its KL
    assert not np.array_equal(tv.images[0, 0], tv.images[0, -1])
    assert tv.row_label(tv.rows[0]).startswith(f"z{tv.rows[0]}  KL ")
    tv.steps.setValue(5)
    assert tv.images.shape[:2] == (4, 5)
    tv.lo.setValue(-1.0)
    tv.hi.setValue(1.0)
    np.testing.assert_allclose(tv.images[:, 2, ..., 0].astype(int),
                               np.repeat(panel.probe_image()[None].astype(int), 4, 0), atol=1)


def test_hide_inactive_drops_a_collapsed_dimension(make_panel, qtbot, trained):
    workspace, panel = make_panel()
    run = workspace.selected
    with torch.no_grad():  # dimension 1 collapses to the prior: mu = 0, logvar = 0, KL = 0
        w, b = run.model.to_stats.weight, run.model.to_stats.bias
        for row in (1, 1 + run.model.latent_dim):
            w[row].zero_()
            b[row].zero_()
    run.history.status = "finished"
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(run)
    assert panel.explorer.kl[1] < INACTIVE_KL
    # the tiny model may have let others collapse too
    active = [d for d in range(4) if panel.explorer.kl[d] >= INACTIVE_KL]
    tv = panel.traversal
    tv.hide_inactive.setChecked(True)
    assert 1 not in tv.rows and sorted(tv.rows) == active
    assert tv.images.shape[0] == len(active)
    tv.hide_inactive.setChecked(False)
    assert 1 in tv.rows and tv.images.shape[0] == 4


def test_switching_to_pca_keeps_the_points_and_the_probe(make_panel, trained):
    data, _ = trained
    workspace, panel = make_panel()
    panel.probe_bar.x_spin.setValue(0.8)
    z = panel.probe_vector
    panel.set_projection("pca")
    assert panel.projection_mode() == "pca"
    assert panel.scatter.point_count() == len(data.test_x)
    np.testing.assert_allclose(panel.probe_vector, z, atol=1e-6)
    assert "PC1" in panel.scatter.getAxis("bottom").labelText
    # the marker sits at the probe's projection, and dragging it moves within the PCA plane
    np.testing.assert_allclose(panel.scatter.probe_pos(), panel.explorer.pca.project(z)[0], atol=1e-6)
    panel.probe_bar.x_spin.setValue(panel.probe_bar.x_spin.value() + 0.5)
    assert panel.scatter.probe_pos()[0] == pytest.approx(panel.probe_bar.x_spin.value())
    np.testing.assert_allclose(panel.explorer.pca.project(panel.probe_vector)[0], panel.scatter.probe_pos(), atol=1e-5)


def test_selecting_another_run_refreshes_the_scatter(make_panel, qtbot, trained):
    workspace, panel = make_panel("vae4")
    other = make_run(trained, "vae2")
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.add_run(other)
    assert panel.axes_bar.x_dim.count() == 2 and panel.probe_vector.shape == (2,)
    mu = expected_means(workspace, other)
    np.testing.assert_allclose(panel.scatter.points(), mu[:, [0, 1]], atol=1e-5)
    assert panel.scatter.getAxis("bottom").labelText == "z0"


def test_a_training_run_is_followed_at_every_epoch_end_and_within_epochs_when_live(make_panel, qtbot):
    """From the first epoch's end on, the explorer shows the run's latest weights (issue 11, item 1)."""
    workspace, panel = make_panel()
    run = workspace.selected
    run.history.status = "running"  # it has finished an epoch (the fixture trained it) and trains on
    panel.probe_bar.x_spin.setValue(panel.probe_bar.x_spin.value() + 0.3)
    probe = panel.probe_vector.copy()
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(run)  # an epoch ended: re-encoded in the background, Live or not
    assert "(training)" in panel.status.text()
    np.testing.assert_allclose(panel.probe_vector, probe)  # the probe stays where the user left it
    assert not workspace.live_weights
    panel.live.setChecked(True)  # Live: the running run publishes its weights within epochs too
    assert workspace.live_weights
    run.history.epochs = []  # even before its first epoch ends
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(run)
    assert "live" in panel.status.text()


def test_a_run_that_just_started_is_encoded_only_when_it_has_something_to_show(make_panel, qtbot, trained):
    """Start selects the new run; its random initial weights are not encoded (work at the busiest moment for
    a meaningless picture) unless Live is ticked; the scatter comes with the finished weights."""
    workspace, panel = make_panel()
    run = make_run(trained, "vae2")
    run.history.status, run.history.epochs = "running", []
    workspace.add_run(run)
    assert panel.scatter.points().shape[0] == 0
    assert "is training" in panel.status.text() and "Live" in panel.status.text()
    run.history.status = "finished"
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(run)
    assert len(panel.scatter.points()) == len(workspace.data.test_x)


@pytest.mark.parametrize("mode", ["dims", "pca"])
def test_refresh_keeps_the_probe_the_anchor_and_the_projection(make_panel, qtbot, mode, no_mouse_rate_limit):
    workspace, panel = make_panel()
    panel.set_projection(mode)
    i = lone_point(panel.scatter)
    with qtbot.waitSignal(workspace.pointPicked, timeout=TIMEOUT):
        click(panel.scatter, view_pos(panel.scatter, *panel.scatter.points()[i]))
    panel.probe_bar.x_spin.setValue(panel.probe_bar.x_spin.value() + 0.4)
    z, anchor, pos, axes = panel.probe_vector, panel.anchor, panel.scatter.probe_pos(), panel.shown_dims()
    pca = panel.explorer.pca
    with torch.no_grad():
        workspace.selected.model.decoder.net[-1].bias.add_(0.5)
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(workspace.selected)
    np.testing.assert_allclose(panel.probe_vector, z)
    np.testing.assert_allclose(panel.anchor, anchor)
    assert panel.projection_mode() == mode and panel.shown_dims() == axes
    assert panel.explorer.pca is pca
    assert panel.scatter.probe_pos() == pytest.approx(pos, abs=1e-6)  # the probe's vector is float32
    assert not np.allclose(panel.scatter.points(), 0)
    # the same probe decodes with the new weights
    expected = to_uint8(decode(workspace.decode_model(), z[None]))[0, ..., 0]
    np.testing.assert_array_equal(panel.probe_image(), expected)


def test_probe_request_from_another_panel_moves_the_probe(make_panel, qtbot):
    workspace, panel = make_panel()
    z = np.array([0.3, -1.2, 0.9, 0.1], np.float32)
    workspace.request_probe(z)
    np.testing.assert_allclose(panel.probe_vector, z)
    np.testing.assert_allclose(workspace.probe, z)
    dx, dy = panel.shown_dims()
    assert panel.scatter.probe_pos() == pytest.approx((z[dx], z[dy]))
    with qtbot.waitSignal(workspace.statusMessage, timeout=TIMEOUT):
        workspace.request_probe(np.zeros(7))
    np.testing.assert_allclose(panel.probe_vector, z)


def test_user_points_appear_as_labelled_stars(make_panel):
    workspace, panel = make_panel()
    workspace.add_user_point("my digit", np.array([0.5, 0.5, 0.5, 0.5]))
    (label, xy), = panel.scatter.user_points()
    assert label == "my digit"
    assert xy == pytest.approx(tuple(panel.explorer.project(np.full(4, 0.5))[0]))


def test_conditional_model_decodes_the_chosen_class(make_panel):
    workspace, panel = make_panel("cvae")
    assert not panel.probe_bar.class_combo.isHidden() and panel.probe_bar.class_combo.count() == 3
    first = panel.probe_image().copy()
    panel.probe_bar.class_combo.setCurrentIndex(2)
    expected = to_uint8(decode(workspace.decode_model(), panel.probe_vector[None], 2))[0, ..., 0]
    np.testing.assert_array_equal(panel.probe_image(), expected)
    assert not np.array_equal(first, expected)
    assert panel.traversal.images is not None


def test_data_that_does_not_fit_the_model_gives_a_message(make_panel):
    workspace, panel = make_panel()
    workspace.set_data(toy_data(n=50, size=12))
    assert "do not fit this model" in panel.status.text()
    assert panel.scatter.point_count() == 0
    assert panel.probe_image() is not None  # the probe still decodes


def test_exports_write_a_png_and_a_gif_with_one_frame_per_step(make_panel, tmp_path):
    workspace, panel = make_panel()
    tv = panel.traversal
    tv.hide_inactive.setChecked(False)
    tv.steps.setValue(7)
    gif = tmp_path / "sweep.gif"
    tv.export_gif(gif)
    with Image.open(gif) as im:
        assert im.n_frames == 2 * 7 - 2
    png = tmp_path / "grid.png"
    tv.export_png(png)
    with Image.open(png) as im:
        assert im.size == (7 * (SIZE + 2) + 2, 4 * (SIZE + 2) + 2)


def test_export_buttons_remember_the_last_folder(make_panel, tmp_path, monkeypatch):
    workspace, panel = make_panel()
    tv = panel.traversal
    asked = []
    folder = tmp_path / "exports"
    folder.mkdir()

    def fake_dialog(parent, caption, start, filt):
        asked.append(start)
        return str(folder / ("sweep" if "GIF" in filt else "grid")), filt  # no suffix: the panel adds it

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_dialog))
    tv.gif_button.click()
    tv.png_button.click()
    assert (folder / "sweep.gif").is_file() and (folder / "grid.png").is_file()
    assert not asked[0].startswith(str(folder)) and asked[1].startswith(str(folder))


def test_choosing_the_other_axis_dimension_swaps_the_axes(make_panel):
    workspace, panel = make_panel()
    dx, dy = panel.shown_dims()
    panel.axes_bar.x_dim.setCurrentIndex(panel.axes_bar.x_dim.findData(dy))
    assert panel.shown_dims() == (dy, dx)
    assert (panel.axes_bar.x_dim.currentData(), panel.axes_bar.y_dim.currentData()) == (dy, dx)
    assert panel.scatter.getAxis("bottom").labelText == f"z{dy}"
    np.testing.assert_allclose(panel.scatter.points(), panel.explorer.mu[:, [dy, dx]], atol=1e-6)


class _Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.tickets = []

    @Slot(int, object)
    def on_encoded(self, ticket, result):
        self.tickets.append(ticket)


def test_encode_worker_drops_stale_requests(qtbot, trained):
    data, runs = trained
    c, model, _ = runs["vae4"]
    gate = threading.Event()

    class Slow(type(model)):
        def encode(self, x, y=None):
            gate.wait(5)
            return super().encode(x, y)

    slow = Slow(c.model)
    slow.load_state_dict(model.state_dict())
    runner = TaskRunner(Mode.LATEST, "encode")
    rec = _Receiver()
    runner.done.connect(rec.on_encoded)
    try:
        first = runner.submit(encode_split, slow, data.test_x, data.test_y)
        second = runner.submit(encode_split, copy.deepcopy(model), data.test_x, data.test_y)
        gate.set()
        qtbot.waitUntil(lambda: bool(rec.tickets), timeout=TIMEOUT)
        qtbot.waitUntil(lambda: not runner.busy, timeout=TIMEOUT)
        assert rec.tickets == [second] and first != second
    finally:
        gate.set()
        runner.shutdown()
    assert not runner.running


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch finds none)")
def test_decoding_and_encoding_on_the_gpu_match_the_cpu(make_panel, qtbot):
    workspace, panel = make_panel()
    mu_cpu, image_cpu = panel.explorer.mu.copy(), panel.probe_image().copy()
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.set_decode_device("cuda")
        workspace.publish_weights(workspace.selected)  # re-encode with the decode model now on the GPU
    assert next(workspace.decode_model().parameters()).is_cuda
    np.testing.assert_allclose(panel.explorer.mu, mu_cpu, atol=3e-3)  # TF32 matmuls differ by ~1e-3
    np.testing.assert_allclose(panel.probe_image().astype(int), image_cpu.astype(int), atol=2)


def test_probe_drags_and_anchors_are_undone_and_redone(make_panel, qtbot, no_mouse_rate_limit):
    """Edit ▸ Undo puts the probe (and the anchor a click set) back where they were, one gesture at a time."""
    workspace, panel = make_panel()
    plot = panel.scatter
    plot.scene().minDragTime = 0
    plot.plotItem.vb.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
    stack = panel.undo_stack
    start_z, start_image = panel.probe_vector.copy(), panel.probe_image().copy()
    a, b = view_pos(plot, *plot.probe_pos()), view_pos(plot, 2.0, -1.5)
    drag(plot, [a + (b - a) * (k / 8) for k in range(9)])  # one drag = one undo step
    dragged = panel.probe_vector.copy()
    assert not np.allclose(dragged, start_z) and stack.count() == 1 and stack.undoText() == "Drag the probe"
    i = lone_point(plot)
    click(plot, view_pos(plot, *plot.points()[i]))  # anchors the probe at a test point
    assert panel.explorer.anchor_index == i and stack.count() == 2
    stack.undo()
    assert panel.explorer.anchor_index is None
    np.testing.assert_allclose(panel.probe_vector, dragged, atol=1e-6)
    stack.undo()
    np.testing.assert_allclose(panel.probe_vector, start_z, atol=1e-6)
    np.testing.assert_array_equal(panel.probe_image(), start_image)  # the decoded image follows
    np.testing.assert_allclose(workspace.probe, start_z, atol=1e-6)  # and the other panels see it
    assert plot.probe_pos() == pytest.approx(tuple(panel.explorer.probe_xy), abs=1e-5)
    stack.redo()
    np.testing.assert_allclose(panel.probe_vector, dragged, atol=1e-6)


def test_the_scatter_keeps_its_place_while_the_status_and_the_axes_change(make_panel, qtbot, trained):
    """A new run says it is training (a long status), then shows its scatter with each dimension's KL in the
    axis lists: the status line and the lists keep their size, so the scatter neither moves nor repaints whole."""
    workspace, panel = make_panel(with_run=False)
    panel.resize(640, 700)
    workspace.set_data(trained[0])
    run = make_run(trained, "vae4")
    run.history.status, epochs = "running", run.history.epochs
    run.history.epochs = []
    workspace.add_run(run)
    qtbot.wait(50)
    assert "is training" in panel.status.text()
    place, combo = panel.scatter.geometry(), panel.axes_bar.x_dim.width()
    run.history.status, run.history.epochs = "finished", epochs
    with qtbot.waitSignal(panel.scatterUpdated, timeout=TIMEOUT):
        workspace.publish_weights(run)
    qtbot.wait(50)
    assert "KL" in panel.axes_bar.x_dim.currentText() and "test images" in panel.status.text()
    assert panel.scatter.geometry() == place and panel.axes_bar.x_dim.width() == combo
    panel.status.setText("a message long enough to need three lines in this narrow panel, " * 3)
    qtbot.wait(50)
    assert panel.scatter.geometry() == place  # shortened with "…", whole in its tooltip
    assert panel.status.toolTip() == panel.status.text()
