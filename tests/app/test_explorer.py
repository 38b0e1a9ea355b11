"""The latent explorer's model, driven without a window: projection and lift, anchor, axis order, PCA."""
from types import SimpleNamespace

import numpy as np
import pytest

from vae_studio.app.explorer import DIMS, PCA_MODE, LatentExplorer, encoding_problem, waits_for_first_epoch
from vae_studio.app.states import RunStatus

KL = np.array([0.1, 2.0, 0.5, 1.0])  # most active first: z1, z3, z2, z0


def split(seed=0, n=200, d=4, scale=(0.5, 2.0, 1.0, 1.5)):
    mu = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32) * np.asarray(scale, np.float32)
    return mu, np.zeros_like(mu), np.arange(n) % 3


def explorer_with_split(kl=KL, **kw) -> LatentExplorer:
    ex = LatentExplorer()
    ex.start_run(4)
    mu, logvar, labels = split(**kw)
    assert ex.set_split(mu, logvar, labels, kl, epoch=2)
    return ex


@pytest.mark.parametrize("mode", [DIMS, PCA_MODE])
def test_lift_then_project_gives_the_plot_position_and_the_other_dims_come_from_the_anchor(mode):
    ex = explorer_with_split()
    ex.set_mode(mode)
    assert ex.projection == mode
    assert ex.pick(5)
    anchor = ex.anchor.astype(np.float64)
    z = ex.move_probe(0.7, -1.3)
    np.testing.assert_allclose(ex.project(z)[0], [0.7, -1.3], atol=1e-5)
    assert ex.probe_xy == pytest.approx((0.7, -1.3), abs=1e-5)
    if mode == DIMS:
        dx, dy = ex.dims
        others = [k for k in range(4) if k not in (dx, dy)]
        np.testing.assert_allclose(z[others], anchor[others])
    else:  # the part of z off the principal plane is the anchor's
        comps = ex.pca.components
        off = lambda v: (v - ex.pca.mean) - ((v - ex.pca.mean) @ comps.T) @ comps  # noqa: E731
        np.testing.assert_allclose(off(z.astype(np.float64)), off(anchor), atol=1e-5)
    # a picked point's mean projects where the lift of its projection is: the round trip keeps the vector
    ex.pick(7)
    np.testing.assert_allclose(ex.lift(*ex.project(ex.mu[7])[0]), ex.mu[7], atol=1e-5)


def test_axes_follow_the_kl_order_until_the_user_picks_them():
    ex = LatentExplorer()
    ex.start_run(4, kl=KL)  # the run's last recorded KL orders the axes before any split
    assert ex.order == [1, 3, 2, 0] and ex.dims == (1, 3)
    mu, logvar, labels = split()
    ex.move_probe(1.0, -2.0)
    ex.set_split(mu, logvar, labels, np.array([3.0, 0.1, 2.0, 0.2]))  # the weights changed: new order
    assert ex.dims == (0, 2) and not ex.dims_chosen
    assert ex.probe_xy == (0.0, 0.0)  # the probe kept its vector, and the next drag keeps z1 and z3
    assert ex.move_probe(0.5, 0.5)[[1, 3]] == pytest.approx([1.0, -2.0])
    ex.choose_axis(1, 3)
    assert ex.dims == (0, 3) and ex.dims_chosen
    ex.set_split(mu, logvar, labels, KL)  # the user's axes stay
    assert ex.dims == (0, 3) and ex.order == [1, 3, 2, 0]
    ex.choose_axis(0, 3)  # the dimension the other axis shows: the two swap
    assert ex.dims == (3, 0)
    ex.start_run(4, kl=KL)  # another run follows the KL order again
    assert ex.dims == (1, 3) and not ex.dims_chosen


def test_when_the_axes_change_the_probe_keeps_its_vector_and_the_next_drag_starts_from_it():
    ex = explorer_with_split()
    ex.move_probe(1.0, -2.0)  # on z1, z3
    ex.choose_axis(0, 0)  # now z0, z3
    z = ex.probe.copy()
    np.testing.assert_allclose(ex.anchor, z)
    assert ex.probe_xy == pytest.approx((z[0], z[3]))
    moved = ex.move_probe(0.5, -2.0)
    assert moved[1] == pytest.approx(1.0) and moved[0] == pytest.approx(0.5)  # z1 kept from the earlier drag
    assert ex.anchor_text == "where the probe was"


def test_a_refresh_keeps_the_probe_the_anchor_and_the_pca_fit():
    ex = explorer_with_split()
    ex.set_mode(PCA_MODE)
    pca = ex.pca
    ex.pick(3)
    ex.move_probe(0.4, 0.2)
    probe, anchor = ex.probe.copy(), ex.anchor.copy()
    mu, logvar, labels = split(seed=1)  # new weights, new means
    assert ex.set_split(mu, logvar, labels, KL, epoch=3)
    assert ex.pca is pca and ex.projection == PCA_MODE and ex.weights_epoch == 3
    np.testing.assert_allclose(ex.probe, probe)
    np.testing.assert_allclose(ex.anchor, anchor)
    assert ex.anchor_index == 3 and ex.anchor_text == "point #3"
    np.testing.assert_allclose(ex.picked_xy(), pca.project(mu[3])[0])  # the ring is on the new mean
    assert ex.refit_pca() and ex.pca is not pca  # only the user refits
    ex.set_mode(DIMS)
    assert ex.projection == DIMS
    fitted = ex.pca
    ex.set_mode(PCA_MODE)  # switching back fits again on the current means
    assert ex.pca is not fitted and ex.projection == PCA_MODE


def test_pca_waits_for_the_first_split_and_the_projection_shows_dims_until_then():
    ex = LatentExplorer()
    ex.start_run(4)
    ex.set_mode(PCA_MODE)
    assert ex.mode == PCA_MODE and ex.projection == DIMS and ex.pca is None
    mu, logvar, labels = split()
    ex.set_split(mu, logvar, labels, KL)
    assert ex.projection == PCA_MODE
    np.testing.assert_allclose(ex.project(mu).mean(0), 0, atol=1e-5)  # centred on the means
    ex.clear_split()  # another data set: the fit goes with the split
    assert ex.projection == DIMS and ex.mu is None


def test_anchor_sources_and_reset():
    ex = explorer_with_split()
    assert ex.anchor_text == "origin"
    with pytest.raises(ValueError, match="has 7 dimensions, the model has 4"):
        ex.send_probe(np.zeros(7))
    z = np.array([0.3, -1.2, 0.9, 0.1], np.float32)
    ex.send_probe(z)
    np.testing.assert_allclose(ex.probe, z)
    np.testing.assert_allclose(ex.anchor, z)
    assert ex.anchor_text == "vector from another panel" and ex.picked_xy() is None
    xy = ex.probe_xy
    ex.reset_anchor()  # the probe stays on the plot, the other dimensions go to zero
    assert ex.probe_xy == pytest.approx(xy) and ex.anchor_text == "origin"
    dx, dy = ex.dims
    assert not ex.probe[[k for k in range(4) if k not in (dx, dy)]].any()
    ex.pick(9)
    assert ex.picked_label == 0 and ex.anchor_text == "point #9"
    ex.clear_split()  # the mean stays the anchor, but names no point of the new data set
    np.testing.assert_allclose(ex.anchor, split()[0][9])
    assert ex.anchor_index is None and "previous data set" in ex.anchor_text
    assert not ex.pick(0)  # no split, nothing to pick


def test_user_points_of_this_latent_size_are_projected():
    ex = explorer_with_split()
    pts = ex.project_user_points([("mine", np.array([1.0, 2.0, 3.0, 4.0])), ("other model", np.zeros(3))])
    assert [label for label, _ in pts] == ["mine"]
    np.testing.assert_allclose(pts[0][1], [2.0, 4.0])  # z1, z3: the most active
    ex.set_mode(PCA_MODE)
    np.testing.assert_allclose(ex.project_user_points([("mine", np.ones(4))])[0][1], ex.pca.project(np.ones(4))[0])
    assert LatentExplorer().project_user_points([("mine", np.ones(4))]) == []


def test_small_latents():
    ex = LatentExplorer()
    ex.start_run(2, kl=[0.1, 5.0])
    assert ex.dims == (0, 1)  # a 2-d latent shows z0 against z1 whatever the KL
    ex.start_run(1)
    ex.set_mode(PCA_MODE)
    assert ex.mode == DIMS and ex.dims == (0, None)
    z = ex.move_probe(0.5, 9.0)
    np.testing.assert_allclose(z, [0.5])
    assert ex.probe_xy == (0.5, 0.0) and ex.axis_names()[0] == ("z0", "(none)")
    mu = np.zeros((5, 2), np.float32)
    assert not ex.set_split(mu, mu, None, np.zeros(2))  # encoded by another model: ignored


def run_like(status: str, epochs: int):
    return SimpleNamespace(status=RunStatus(status), history=SimpleNamespace(epochs=[{}] * epochs))


def test_a_run_waits_for_its_first_epoch_unless_followed_live():
    assert waits_for_first_epoch(run_like("running", 0), live=False)
    assert not waits_for_first_epoch(run_like("running", 0), live=True)
    assert not waits_for_first_epoch(run_like("running", 1), live=False)
    assert not waits_for_first_epoch(run_like("finished", 0), live=False)


def test_encoding_problem_names_what_is_missing():
    assert "No data set" in encoding_problem(None, None)
    model = SimpleNamespace(channels=1, image_size=16)
    run = SimpleNamespace(config=SimpleNamespace(model=model), model=SimpleNamespace(conditional=False))
    data = SimpleNamespace(channels=1, image_size=12, test_x=np.zeros((3, 1, 12, 12)), test_y=None, num_classes=0)
    assert "do not fit this model" in encoding_problem(run, data)
    data.image_size = 16
    assert encoding_problem(run, data) == ""
