"""View ▸ Compare two runs: two aligned scatters of the same test images and one image decoded by both."""
import numpy as np
import pytest

from vae_studio.core.latent import decode, encode_dataset, fit_pca, to_uint8

from .helpers import action, small_data, trained_run
from .test_latent_panel import click, lone_point, view_pos  # noqa: F401

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


def test_two_runs_side_by_side_aligned_with_one_image_decoded_by_both(make_window, qtbot):
    data = small_data()
    w = make_window(data)
    r1 = w.workspace.add_run(trained_run(data, beta=1.0, name="beta 1"))
    r4 = w.workspace.add_run(trained_run(data, beta=4.0, name="beta 4"))
    action(w, "Compare two runs…").trigger()
    cw = w.compare_window
    qtbot.waitExposed(cw)
    with qtbot.waitSignal(cw.compared, timeout=20_000):
        cw.choose_runs(r1, r4)
    n = len(data.test_x)
    left, right = cw.scatter_a.points(), cw.scatter_b.points()
    assert left.shape == right.shape == (n, 2)
    assert cw.scatter_a.point_count() == cw.scatter_b.point_count() == n
    # the left view is run 1's PCA; the right one is run 4's PCA turned onto it: the same images sit
    # closer to each other than in run 4's own PCA axes, and distances within the view are kept
    mu4 = encode_dataset(w.workspace.decode_model(r4), data.test_x, data.test_y).mu
    raw = fit_pca(mu4).project(mu4)
    assert np.square(right - left).sum() <= np.square(raw - raw.mean(0) + left.mean(0) - left).sum() + 1e-6
    d_raw = np.linalg.norm(raw[:, None] - raw[None], axis=2)
    d_right = np.linalg.norm(right[:, None] - right[None], axis=2)
    np.testing.assert_allclose(d_right, d_raw, atol=1e-6)

    # a click on a point of the right scatter decodes that test image with both runs
    i = lone_point(cw.scatter_b)
    click(cw.scatter_b, view_pos(cw.scatter_b, *right[i]))
    assert cw.index.value() == i
    img_a, img_b = cw.decoded_images()
    for img, run in ((img_a, r1), (img_b, r4)):
        model = w.workspace.decode_model(run)
        mu = encode_dataset(model, data.test_x[i:i + 1]).mu
        np.testing.assert_array_equal(img, to_uint8(decode(model, mu))[0, ..., 0])
    assert not np.array_equal(img_a, img_b)


def test_runs_of_other_data_are_not_compared(make_window, qtbot):
    data = small_data()
    w = make_window(data)
    r1 = w.workspace.add_run(trained_run(data, name="a"))
    other = small_data(seed=1)
    other.name = "other"
    r2 = w.workspace.add_run(trained_run(other, name="b"))
    action(w, "Compare two runs…").trigger()
    cw = w.compare_window
    cw.choose_runs(r1, r2)
    assert "different data sets" in cw.status.text()
    assert cw.scatter_a.point_count() == 0 and cw.decoded_images() == (None, None)
