"""The sampling canvas: prior grid, interpolation, the user's own image, exports, background decoding."""
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from tests.core.helpers import toy_data
from vae_studio.core.checkpoint import Run
from vae_studio.core.config import RunConfig
from vae_studio.core.latent import decode, encode_dataset, lerp, prior_latents, sample_prior, slerp
from vae_studio.core.training import Trainer
from vae_studio.ui.sampling.panel import EMPTY_TEXT, SamplingPanel
from vae_studio.ui.sampling.prior_samples import SYNC_LIMIT
from vae_studio.app.workspace import Workspace
from vae_studio.workers.decoding import decode_grid
from vae_studio.workers.tasks import Mode, TaskRunner

SIZE = 16


@pytest.fixture(scope="module")
def trained():
    """One tiny trained model per kind, shared by the tests (they only decode copies of it)."""
    data = toy_data(n=400, size=SIZE)
    out = {}
    for kind in ("vae", "cvae"):
        c = RunConfig()
        c.model.kind, c.model.hidden, c.model.latent_dim = kind, [32], 4
        c.train.batch_size, c.train.epochs = 64, 1
        t = Trainer(c, data)
        t.train()
        out[kind] = (c, t.model, t.history)
    return data, out


@pytest.fixture
def make_panel(qtbot, trained):
    panels = []

    def make(kind="vae", with_run=True, show=False):
        data, runs = trained
        workspace = Workspace()
        panel = SamplingPanel(workspace)
        qtbot.addWidget(panel)
        panels.append(panel)
        if with_run:
            c, model, history = runs[kind]
            workspace.set_data(data)
            workspace.add_run(Run(config=c, model=model, history=history, class_names=data.class_names, name=kind))
        if show:
            panel.resize(1200, 700)
            panel.show()
            qtbot.waitExposed(panel)
        return workspace, panel

    yield make
    for p in panels:
        p.shutdown()
        assert not p.decoder.running


def strip_images(panel):
    return torch.from_numpy(panel.interp.images)


# -- prior samples ---------------------------------------------------------------------------------------


def test_empty_state_until_a_run_is_selected(make_panel, trained):
    workspace, panel = make_panel(with_run=False)
    assert panel.stack.currentWidget() is panel.empty and panel.empty.text() == EMPTY_TEXT
    data, runs = trained
    c, model, history = runs["vae"]
    workspace.add_run(Run(config=c, model=model, history=history, name="r"))
    assert panel.stack.currentWidget() is not panel.empty
    assert panel.grid.count == 64
    workspace.remove_run(workspace.selected)
    assert panel.stack.currentWidget() is panel.empty


def test_grid_has_the_asked_number_of_images_and_the_seed_decides_them(make_panel):
    workspace, panel = make_panel()
    model = workspace.decode_model()
    assert panel.grid.count == 64 and panel.images.shape == (64, 1, SIZE, SIZE)  # default 8 x 8
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 64, 1.0, 0))
    panel.set_grid_side(4)
    assert panel.grid.count == 16 and panel.images.shape[0] == 16
    first = panel.images.copy()
    panel.seed.setValue(7)
    assert not np.allclose(panel.images, first)
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 16, 1.0, 7))
    panel.seed.setValue(0)
    assert np.array_equal(panel.images, first)  # the same seed repeats the same samples
    panel.resample.click()
    assert panel.seed.value() != 0 and not np.allclose(panel.images, first)


def test_temperature_scales_the_prior(make_panel):
    workspace, panel = make_panel()
    panel.temperature.setValue(0.0)
    z0 = decode(workspace.decode_model(), np.zeros((1, 4), np.float32))
    assert np.allclose(panel.latents, 0) and torch.allclose(torch.from_numpy(panel.images), z0.expand(64, -1, -1, -1))
    panel.temperature.setValue(2.0)
    assert np.allclose(panel.latents, prior_latents(4, 64, 2.0, 0).numpy())


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's note when a window is shown
def test_clicking_a_sample_moves_the_probe_and_it_can_become_an_endpoint(make_panel, qtbot):
    workspace, panel = make_panel(show=True)
    i = 10
    view = panel.grid.view
    scene_pt = panel.grid.image.mapToScene(QPointF(*panel.grid.cell_center(i)))
    pos = view.mapFromScene(scene_pt)
    with qtbot.waitSignal(workspace.probeRequested, timeout=2000) as probe:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert panel.grid.selected == i
    assert np.allclose(probe.args[0], panel.latents[i])
    assert panel.set_a.isEnabled()
    panel.set_a.click()
    assert panel.interp.a.source == "prior"
    expected = decode(workspace.decode_model(), panel.latents[i][None])
    assert torch.allclose(strip_images(panel)[0], expected[0], atol=1e-6)
    # a click on the grey padding between samples selects nothing new
    x, y = panel.grid.cell_center(0)
    pad = view.mapFromScene(panel.grid.image.mapToScene(QPointF(x + SIZE / 2 + 1, y)))
    with qtbot.assertNotEmitted(workspace.probeRequested):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pad)
    assert panel.grid.selected == i
    # new weights keep the same samples selected; new samples drop the selection
    workspace.publish_weights(workspace.selected)
    assert panel.grid.selected == i and panel.set_b.isEnabled()
    panel.seed.setValue(3)
    assert panel.grid.selected is None and not panel.set_b.isEnabled()


def test_per_class_mode_decodes_each_row_with_its_class(make_panel, trained):
    workspace, panel = make_panel("cvae")
    model = workspace.decode_model()
    assert panel.class_combo.isVisibleTo(panel) and panel.class_combo.count() == 3
    panel.per_class.setChecked(True)
    k, side = 3, panel.grid_side
    assert panel.grid.count == k * side
    images = torch.from_numpy(panel.images).view(k, side, 1, SIZE, SIZE)
    z_row = panel.latents[:side]
    for c in range(k):
        assert np.allclose(panel.latents[c * side:(c + 1) * side], z_row)  # each column keeps its z
        assert torch.allclose(images[c], decode(model, z_row, label=c), atol=1e-6)
    assert not torch.allclose(images[0], images[1], atol=1e-3) and not torch.allclose(images[1], images[2], atol=1e-3)
    # without the mode, the chosen class decodes the whole grid
    panel.per_class.setChecked(False)
    panel.class_combo.setCurrentIndex(2)
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 64, 1.0, 0, label=2), atol=1e-6)


def test_new_weights_redraw_the_grid(make_panel):
    workspace, panel = make_panel()
    before = panel.images.copy()
    run = workspace.selected
    state = {k: v.clone() + (0.5 if k.startswith("decoder") else 0.0) for k, v in run.model.state_dict().items()}
    workspace.publish_weights(run, state)
    assert not np.allclose(panel.images, before)
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(workspace.decode_model(), 64, 1.0, 0))


# -- interpolation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["lerp", "slerp"])
def test_strips_start_and_end_at_the_endpoints(make_panel, trained, path):
    workspace, panel = make_panel()
    data, _ = trained
    model = workspace.decode_model()
    interp = panel.interp
    interp.path.setCurrentIndex(interp.path.findData(path))
    interp.b.index.setValue(5)
    mu = encode_dataset(model, data.test_x[[0, 5]]).mu
    strip = strip_images(panel)
    assert strip.shape[0] == 10 and interp.strip.count == 10
    ends = decode(model, mu)
    assert torch.allclose(strip[0], ends[0], atol=1e-5) and torch.allclose(strip[-1], ends[1], atol=1e-5)
    fn = slerp if path == "slerp" else lerp
    assert np.allclose(interp.latents, fn(mu[0], mu[1], 10), atol=1e-5)
    interp.steps.setValue(4)
    assert strip_images(panel).shape[0] == 4 and interp.strip.count == 4


def test_probe_and_scatter_pick_endpoints_follow_the_workspace(make_panel, trained):
    workspace, panel = make_panel()
    data, _ = trained
    interp = panel.interp
    interp.a.set_source("probe")
    assert interp.images is None and "probe" in interp.error.text() and not interp.save_gif_button.isEnabled()
    z = np.array([1.0, -1.0, 0.5, 2.0], np.float32)
    workspace.set_probe(z)
    model = workspace.decode_model()
    assert torch.allclose(strip_images(panel)[0], decode(model, z[None])[0], atol=1e-6)
    interp.b.set_source("picked")
    assert "scatter" in interp.error.text()
    workspace.pick_point(3)
    end = decode(model, encode_dataset(model, data.test_x[3:4]).mu)
    assert torch.allclose(strip_images(panel)[-1], end[0], atol=1e-5)


def test_animation_plays_pauses_and_steps_through_the_frames(make_panel):
    _, panel = make_panel()
    interp = panel.interp
    interp.play.click()
    assert interp.timer.isActive() and interp.play.text() == "Pause"
    interp.speed.setValue(20)
    assert interp.timer.interval() == 50
    before = interp.frame
    interp.timer.timeout.emit()
    assert interp.frame == (before + 1) % 10
    interp.play.click()
    assert not interp.timer.isActive()


def test_gif_strip_and_frames_export(make_panel, tmp_path):
    _, panel = make_panel()
    interp = panel.interp
    interp.steps.setValue(7)
    assert len({f.tobytes() for f in interp.frames}) == 7  # distinct frames (Pillow merges equal ones)
    gif = interp.export_gif(str(tmp_path / "walk.gif"))
    with Image.open(gif) as im:
        assert im.n_frames == 7
        assert min(im.size) >= 128
    png = interp.export_strip(str(tmp_path / "strip.png"))
    with Image.open(png) as im:
        assert im.size == (7 * (SIZE + 2) + 2, SIZE + 4)
    folder = tmp_path / "frames"
    folder.mkdir()
    interp.export_frames(str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [f"interpolation_{i:03d}.png" for i in range(7)]
    # an unwritable destination gives a message, not a traceback
    assert interp.export_gif(str(tmp_path / "missing" / "x.gif")) is None
    assert interp.error.isVisibleTo(panel) and "Could not save" in interp.error.text()


def test_grid_export_remembers_the_last_folder(make_panel, tmp_path, monkeypatch):
    _, panel = make_panel()
    folder = tmp_path / "exports"
    folder.mkdir()
    asked = []

    def fake_dialog(parent, title, start, filt):
        asked.append(start)
        return str(folder / "grid"), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    panel.save_grid.click()
    with Image.open(folder / "grid.png") as im:  # the suffix is added
        assert im.size == (8 * (SIZE + 2) + 2,) * 2
    panel.save_grid.click()
    assert asked[1].startswith(str(folder))  # the second dialog opens where the first one saved


# -- the user's own image ---------------------------------------------------------------------------------


def test_an_image_file_round_trips_and_lands_on_the_scatter(make_panel, trained, tmp_path):
    workspace, panel = make_panel()
    data, _ = trained
    path = tmp_path / "mine.png"
    Image.fromarray(data.test_x[2, 0].numpy()).save(path)
    box = panel.user_image
    assert box.open_file(str(path))
    assert np.array_equal(box.input_frame, data.test_x[2, 0].numpy())  # model-sized input kept exactly
    model = workspace.decode_model()
    mu = encode_dataset(model, data.test_x[2:3]).mu
    assert len(workspace.user_points) == 1
    name, z = workspace.user_points[0]
    assert name == "mine.png" and np.allclose(z, mu[0], atol=1e-5)
    recon = decode(model, mu)
    assert np.array_equal(box.recon_frame, (recon[0, 0] * 255 + 0.5).to(torch.uint8).numpy())
    box.use_a.click()
    assert panel.interp.a.source == "file" and np.allclose(panel.interp.latents[0], mu[0], atol=1e-5)
    box.invert.setChecked(True)  # re-encoded; its scatter point is replaced, not duplicated
    assert len(workspace.user_points) == 1 and not np.allclose(workspace.user_points[0][1], mu[0])


def test_dropping_an_image_on_the_panel_encodes_it(make_panel, trained, tmp_path):
    workspace, panel = make_panel()
    data, _ = trained
    path = tmp_path / "dropped.png"
    Image.fromarray(data.test_x[0, 0].numpy()).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    # QApplication only delivers drop events during a real drag, so call the panel's handlers directly
    enter = QDragEnterEvent(QPoint(10, 10), *args)
    panel.dragEnterEvent(enter)
    assert panel.acceptDrops() and enter.isAccepted()
    panel.dropEvent(QDropEvent(QPointF(10, 10), *args))
    assert [p[0] for p in workspace.user_points] == ["dropped.png"]
    text = QMimeData()
    text.setText("just text")
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, text, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    panel.dragEnterEvent(enter)
    assert not enter.isAccepted()  # only files can be dropped


@pytest.mark.parametrize("case", ["text", "bomb"])
def test_a_wrong_file_gives_a_message_and_nothing_breaks(make_panel, trained, tmp_path, monkeypatch, case):
    workspace, panel = make_panel()
    data, _ = trained
    box = panel.user_image
    good = tmp_path / "good.png"
    Image.fromarray(data.test_x[0, 0].numpy()).save(good)
    assert box.open_file(str(good))
    if case == "text":
        bad = tmp_path / "notes.png"
        bad.write_text("not an image at all\n")
        expect = "not an image"
    else:
        bad = tmp_path / "huge.png"
        Image.fromarray(np.zeros((40, 40), np.uint8)).save(bad)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 pixels: over the limit
        expect = "too large"
    assert not box.open_file(str(bad))
    assert box.error.isVisibleTo(panel) and expect in box.error.text() and bad.name in box.error.text()
    assert len(workspace.user_points) == 1 and box.path == str(good)  # the previous image stays
    panel.seed.setValue(3)  # the panel still works
    assert panel.grid.count == 64


# -- background decoding -------------------------------------------------------------------------------


def test_a_large_grid_decodes_in_the_background_and_the_latest_request_wins(make_panel, qtbot):
    workspace, panel = make_panel()
    model = workspace.decode_model()
    with qtbot.waitSignal(panel.decoder.done, timeout=20000):
        panel.set_grid_side(32)
        assert 32 * 32 > SYNC_LIMIT and panel.decoder.running
        assert panel.grid.image.opacity() < 1 and "Decoding 1,024" in panel.grid.caption.text()  # busy state
        panel.seed.setValue(5)
        panel.seed.setValue(6)
    qtbot.waitUntil(lambda: not panel.decoder.busy, timeout=20000)
    assert panel.grid.count == 1024 and panel.grid.image.opacity() == 1
    assert torch.allclose(torch.from_numpy(panel.images), sample_prior(model, 1024, 1.0, 6), atol=1e-6)
    panel.set_grid_side(8)  # small again: decoded directly, any late worker result is ignored
    assert panel.grid.count == 64


class GatedModel(torch.nn.Module):
    """Wraps a VAE; its first decode waits until the test opens the gate."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.entered, self.gate = threading.Event(), threading.Event()
        self.calls = 0

    latent_dim = property(lambda self: self.inner.latent_dim)
    conditional = property(lambda self: self.inner.conditional)

    def decode_images(self, z, y=None):
        self.calls += 1
        self.entered.set()
        self.gate.wait(10)
        return self.inner.decode_images(z, y)


def test_decode_worker_serves_only_the_newest_request(qtbot, trained):
    _, runs = trained
    model = GatedModel(runs["vae"][1]).eval()
    runner = TaskRunner(Mode.LATEST, "decode")
    got = []
    try:
        z = np.zeros((4, 4), np.float32)
        first = runner.submit(decode_grid, model, z, None, 2)
        assert model.entered.wait(10)  # the worker is inside the first decode
        runner.submit(decode_grid, model, z + 1, None, 2)
        last = runner.submit(decode_grid, model, z + 2, None, 2)
        with qtbot.waitSignal(runner.done, timeout=10000) as blocker:
            model.gate.set()
        got.append(blocker.args)
        with qtbot.assertNotEmitted(runner.done, wait=100):
            pass
    finally:
        model.gate.set()
        runner.shutdown()
    assert got[0][0] == last != first
    assert model.calls == 2  # the first (already running) and the last; the middle one was never decoded
    assert np.allclose(got[0][1].images, decode(runs["vae"][1], z + 2).numpy(), atol=1e-6)
    assert not runner.running


def test_a_bad_image_file_is_said_in_the_status_bar_too(make_panel, qtbot, tmp_path):
    """The image box sits low in the panel (below the fold on a laptop): its error also reaches the status bar."""
    workspace, panel = make_panel()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    with qtbot.waitSignal(workspace.statusMessage, timeout=5000) as said:
        assert not panel.user_image.open_file(str(bad))
    assert "broken.png" in said.args[0] and panel.user_image.error.text() in said.args[0]
