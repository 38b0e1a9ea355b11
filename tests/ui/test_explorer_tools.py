"""The latent explorer's tools: nearest test images, directions with their slider, A − B + C, bookmarks."""
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QFileDialog, QSlider

from tests.ui.helpers import action, open_folder, trained_run
from tests.ui.test_latent_panel import (TIMEOUT, drag, make_panel, no_mouse_rate_limit, trained,  # noqa: F401
                                        view_pos)
from vae_studio.core.checkpoint import EXPLORER_FILE, save_run
from vae_studio.core.latent import decode, to_uint8

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def nearest_by_brute_force(mu, z, k):
    return list(np.argsort(np.linalg.norm(mu - z, axis=1), kind="stable")[:k])


def test_the_nearest_test_images_follow_the_probe(make_panel, qtbot, no_mouse_rate_limit):
    workspace, panel = make_panel()
    strip = panel.tools.neighbours
    strip.k.setValue(5)
    mu = panel.explorer.mu
    shown = list(strip.indices)
    assert shown == nearest_by_brute_force(mu, panel.probe_vector, 5)
    # the strip shows those test images, side by side
    data = workspace.data
    first = data.test_x[shown[0], 0].numpy()
    np.testing.assert_array_equal(strip.image.image[:, :first.shape[1]], first)
    assert strip.image.image.shape[1] == 5 * first.shape[1] + 4 * 2
    # dragging the probe across the scatter brings new neighbours, always the nearest
    plot = panel.scatter
    plot.scene().minDragTime = 0
    plot.plotItem.vb.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
    seen = []
    workspace.probeChanged.connect(lambda z: seen.append((z.copy(), list(strip.indices))))
    a, b = view_pos(plot, *plot.probe_pos()), view_pos(plot, 2.5, 2.0)
    drag(plot, [a + (b - a) * (k / 6) for k in range(7)])
    assert len(seen) >= 6
    for z, idx in seen:
        assert idx == nearest_by_brute_force(mu, z, 5)
    assert len({tuple(i) for _, i in seen}) > 1
    # more neighbours on request; hovering one names it
    strip.k.setValue(12)
    assert list(strip.indices) == nearest_by_brute_force(mu, panel.probe_vector, 12)
    assert strip.text_for(0).startswith(f"#{strip.indices[0]}, ")


def test_clicking_a_neighbour_anchors_the_probe_there(make_panel):
    workspace, panel = make_panel()
    strip = panel.tools.neighbours
    target = int(strip.indices[2])
    tile_w = strip._tile[1]
    scene_pos = strip.box.mapViewToScene(QPointF(2 * tile_w + 3, 3))
    strip._on_click(FakeClick(scene_pos))
    assert panel.explorer.anchor_index == target
    np.testing.assert_allclose(panel.probe_vector, panel.explorer.mu[target])


class FakeClick:
    def __init__(self, pos):
        self.pos = pos

    def scenePos(self):  # noqa: N802 - pyqtgraph's API
        return self.pos

    def button(self):
        return Qt.MouseButton.LeftButton

    def accept(self):
        pass


def add_class_direction(panel, a, b):
    view = panel.tools.directions
    panel.tools.tabs.setCurrentWidget(view)
    view.kind.setCurrentIndex(view.kind.findData("classes"))
    view.class_a.setCurrentIndex(view.class_a.findData(a))
    view.class_b.setCurrentIndex(view.class_b.findData(b))
    view.add_button.click()
    mu, labels = panel.explorer.mu, panel.explorer.labels
    return view, mu[labels == a].mean(0) - mu[labels == b].mean(0)


def type_t(qtbot, view, text):
    """Click the slider's label, type a value over it and press Enter, as a user does."""
    qtbot.mouseClick(view.t_label, Qt.MouseButton.LeftButton)
    view.t_label.selectAll()
    qtbot.keyClicks(view.t_label, text)
    qtbot.keyClick(view.t_label, Qt.Key.Key_Return)


def test_a_class_direction_moves_the_probe_along_the_difference_of_the_class_means(make_panel, qtbot):
    workspace, panel = make_panel()
    view, diff = add_class_direction(panel, 2, 0)
    assert [d.name for d in workspace.selected.explorer.directions] == ["c2 − c0"]
    assert view.list.currentItem().text() == "c2 − c0"
    base = panel.probe_vector
    model = workspace.decode_model()
    images = []
    for t in (0.5, 1.0, -1.0):
        view.slider.setValue(t)
        np.testing.assert_allclose(panel.probe_vector, base + t * diff, atol=1e-5)
        np.testing.assert_allclose(workspace.probe, panel.probe_vector)
        img = panel.probe_image()
        np.testing.assert_array_equal(img, to_uint8(decode(model, panel.probe_vector[None]))[0, ..., 0])
        images.append(img.copy())
    assert not np.array_equal(images[0], images[1])
    assert "along c2 − c0" in panel.probe_bar.anchor_label.text() and view.t_label.text() == "-1.00"
    # each new value set on the slider is undoable; undo walks the probe back
    panel.undo_stack.undo()
    np.testing.assert_allclose(panel.probe_vector, base + 1.0 * diff, atol=1e-5)
    # moving the probe otherwise puts the slider's zero where the probe is
    panel.move_probe(0.3, -0.2)
    assert view.slider.value() == 0 and view.t_label.text() == "0.00"
    start = panel.probe_vector
    type_t(qtbot, view, "1")
    np.testing.assert_allclose(panel.probe_vector, start + diff, atol=1e-5)
    assert view.slider.value() == 1.0 and view.t_label.text() == "1.00"
    type_t(qtbot, view, "9")  # beyond the slider's range: its end
    assert view.slider.value() == 2.0 and view.t_label.text() == "2.00"
    np.testing.assert_allclose(panel.probe_vector, start + 2 * diff, atol=1e-5)
    panel.undo_stack.undo()  # each typed value is a step of its own
    np.testing.assert_allclose(panel.probe_vector, start + diff, atol=1e-5)
    panel.undo_stack.undo()
    np.testing.assert_allclose(panel.probe_vector, start, atol=1e-5)


def test_a_drag_along_a_direction_is_one_step_and_each_key_another(make_panel, qtbot):
    workspace, panel = make_panel()
    view, diff = add_class_direction(panel, 1, 0)
    groove = view.slider.findChild(QSlider)
    assert view.slider.accessibleName() == groove.accessibleName() == "Move along the direction"
    base = panel.probe_vector
    steps = panel.undo_stack.count()
    # press on the groove, drag, release: the probe follows live; one step for Edit > Undo
    y, w = groove.height() // 2, groove.width()
    seen = []
    qtbot.mousePress(groove, Qt.MouseButton.LeftButton, pos=QPoint(w // 4, y))
    for x in (w // 3, w // 2 + 10, 3 * w // 4):
        qtbot.mouseMove(groove, QPoint(x, y))
        np.testing.assert_allclose(panel.probe_vector, base + view.slider.value() * diff, atol=1e-5)
        seen.append(view.slider.value())
    qtbot.mouseRelease(groove, Qt.MouseButton.LeftButton, pos=QPoint(3 * w // 4, y))
    assert seen == sorted(seen) and seen[0] < 0 < seen[-1] and len(set(seen)) == 3
    assert view.t_label.text() == f"{seen[-1]:.2f}"
    assert panel.undo_stack.count() == steps + 1
    panel.undo_stack.undo()
    np.testing.assert_allclose(panel.probe_vector, base, atol=1e-5)
    panel.undo_stack.redo()
    after_drag = base + seen[-1] * diff
    np.testing.assert_allclose(panel.probe_vector, after_drag, atol=1e-5)
    assert view.slider.value() == 0  # redo moved the probe: the slider's zero is there now
    # keys step the slider (a hundredth of t, a tenth a page, Home/End its ends), each one step
    for key, want in ((Qt.Key.Key_Right, 0.01), (Qt.Key.Key_PageDown, -0.09), (Qt.Key.Key_End, 2.0)):
        qtbot.keyClick(groove, key)
        assert view.slider.value() == pytest.approx(want) and view.t_label.text() == f"{want:.2f}"
        np.testing.assert_allclose(panel.probe_vector, after_drag + want * diff, atol=1e-5)
    assert panel.undo_stack.count() == steps + 4
    panel.undo_stack.undo()
    np.testing.assert_allclose(panel.probe_vector, after_drag - 0.09 * diff, atol=1e-5)


def test_a_direction_from_two_points_and_latent_arithmetic(make_panel):
    workspace, panel = make_panel()
    view = panel.tools.directions
    mu = panel.explorer.mu
    points = {}
    for name, index in (("A", 3), ("B", 7), ("C", 11)):
        panel.scatter.pointClicked.emit(index)  # as a click on that test point
        getattr(view, f"set_{name.lower()}").click()
        points[name] = mu[index]
        assert getattr(view, f"set_{name.lower()}").text() == f"{name}: point #{index}"
    view.go_analogy.click()
    want = points["A"] - points["B"] + points["C"]
    np.testing.assert_allclose(panel.probe_vector, want, atol=1e-5)
    assert list(panel.tools.neighbours.indices) == nearest_by_brute_force(mu, want, panel.tools.neighbours.k.value())
    panel.undo_stack.undo()
    np.testing.assert_allclose(panel.probe_vector, points["C"], atol=1e-6)
    # P -> Q: t = 1 carries P all the way to Q
    panel.scatter.pointClicked.emit(3)
    view.set_p.click()
    panel.scatter.pointClicked.emit(7)
    view.set_q.click()
    view.kind.setCurrentIndex(view.kind.findData("points"))
    view.add_button.click()
    panel.scatter.pointClicked.emit(3)
    view.slider.setValue(1.0)
    np.testing.assert_allclose(panel.probe_vector, mu[7], atol=1e-5)


def test_a_factor_direction_needs_known_factors(make_panel):
    workspace, panel = make_panel()
    view = panel.tools.directions
    view.kind.setCurrentIndex(view.kind.findData("factor"))
    view.add_button.click()
    assert "no known factors" in view.message.text()
    assert workspace.selected.explorer.directions == []


def test_bookmarks_add_revisit_delete_and_undo(make_panel):
    workspace, panel = make_panel()
    view = panel.tools.bookmarks
    stack = panel.undo_stack
    panel.move_probe(1.0, -0.5)
    here, here_image = panel.probe_vector, panel.probe_image().copy()
    view.name.setText("thin ones")
    view.add_button.click()
    panel.move_probe(-2.0, 1.0)
    view.add_button.click()  # no name: numbered
    assert [view.list.item(i).text() for i in range(view.list.count())] == ["thin ones", "bookmark 1"]
    view.list.setCurrentRow(0)
    view.go_button.click()
    np.testing.assert_allclose(panel.probe_vector, here)
    np.testing.assert_array_equal(panel.probe_image(), here_image)
    assert "bookmark thin ones" in panel.probe_bar.anchor_label.text()
    view.list.setCurrentRow(0)
    view.delete_button.click()
    assert [b.name for b in workspace.selected.explorer.bookmarks] == ["bookmark 1"]
    assert view.list.count() == 1
    stack.undo()
    assert [view.list.item(i).text() for i in range(view.list.count())] == ["thin ones", "bookmark 1"]
    stack.redo()
    assert view.list.count() == 1
    stack.undo()
    np.testing.assert_allclose(workspace.selected.explorer.bookmarks[0].array, here)


def test_each_bookmarks_traversal_is_exported_as_a_png(make_panel, tmp_path, monkeypatch):
    workspace, panel = make_panel()
    view = panel.tools.bookmarks
    for name, (x, y) in (("left/up?", (-1, 1)), ("right", (1, 0))):
        panel.move_probe(x, y)
        view.name.setText(name)
        view.add_button.click()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    view.export_button.click()
    files = sorted(p.name for p in out.iterdir())
    assert files == ["left_up.png", "right.png"]
    rows, steps = len(panel.traversal.rows), panel.traversal.steps.value()
    h = workspace.data.test_x.shape[-1]
    with Image.open(out / "right.png") as im:  # torchvision's grid: 2 px padding around each image
        assert im.size == (steps * (h + 2) + 2, rows * (h + 2) + 2)
    # the file of a bookmark is the traversal grid the view shows with the probe there
    panel.move_probe(1, 0)
    panel.traversal.flush()
    panel.traversal.export_png(tmp_path / "shown.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "shown.png")), np.asarray(Image.open(out / "right.png")))


def test_bookmarks_and_directions_survive_saving_and_reopening_the_run(make_window, qtbot, tmp_path, messages):
    w = make_window()
    w.ask_about_unsaved = False
    entry = w.workspace.add_run(trained_run(w.workspace.data))
    panel = w.latent_panel
    qtbot.waitUntil(lambda: panel.explorer.mu is not None and panel.tools.neighbours.indices.size > 0,
                    timeout=TIMEOUT)
    panel.move_probe(0.5, 0.25)
    panel.tools.bookmarks.name.setText("keep me")
    panel.tools.bookmarks.add_button.click()
    directions = panel.tools.directions
    directions.class_a.setCurrentIndex(directions.class_a.findData(1))
    directions.class_b.setCurrentIndex(directions.class_b.findData(0))
    directions.add_button.click()
    saved = entry.explorer
    entry.folder = tmp_path / "run"
    action(w, "Save run").trigger()
    assert (tmp_path / "run" / EXPLORER_FILE).is_file() and not messages
    w.workspace.remove_run(entry)
    reopened = open_folder(qtbot, w, tmp_path / "run")
    assert reopened.explorer == saved
    assert [panel.tools.bookmarks.list.item(i).text() for i in range(panel.tools.bookmarks.list.count())] == ["keep me"]
    assert directions.list.item(0).text() == "b − a"
    panel.tools.bookmarks.list.setCurrentRow(0)
    panel.tools.bookmarks.go_button.click()
    np.testing.assert_allclose(panel.probe_vector, saved.bookmarks[0].array)


def test_a_damaged_explorer_file_is_left_out_with_a_message_and_the_model_opens(make_window, qtbot, tmp_path, messages):
    w = make_window()
    run = trained_run(w.workspace.data)
    from vae_studio.core.explorer_state import Bookmark, ExplorerState

    run.explorer = ExplorerState([Bookmark.of("b", [0, 0, 0, 0])])
    folder = save_run(run, tmp_path / "run")
    text = (folder / EXPLORER_FILE).read_text()
    (folder / EXPLORER_FILE).write_text(text.replace('"b"', '"c"'))  # changed after saving
    entry = open_folder(qtbot, w, folder)
    assert entry.explorer.is_empty()
    sd, ed = run.model.state_dict(), entry.model.state_dict()
    assert all(np.array_equal(sd[k].numpy(), ed[k].numpy()) for k in sd)
    assert len(messages) == 1 and messages[0][0] == "warning"
    assert "bookmarks and directions were left out" in messages[0][1] and EXPLORER_FILE in messages[0][1]
    json.loads(text)  # the file itself was valid JSON: what is refused is the mismatch with the manifest
