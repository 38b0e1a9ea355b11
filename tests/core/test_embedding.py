"""t-SNE / UMAP views: the inverse-distance lift, the fit as a task (progress, cancel), the transform."""
import numpy as np
import pytest

from vae_studio.core.embedding import EmbeddingError, fit_embedding, idw_lift


class FakeState:
    def __init__(self, cancel_after=None):
        self.progress, self.status, self.cancel_after = [], [], cancel_after

    def is_cancelled(self):
        return self.cancel_after is not None and len(self.progress) >= self.cancel_after

    def set_progress(self, f):
        self.progress.append(f)

    def set_status(self, text):
        self.status.append(text)


def test_lift_on_a_point_is_that_points_latent():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    z = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(idw_lift(xy, z, (1.0, 0.0)), z[1])


def test_lift_weighs_the_nearest_points_by_inverse_squared_distance():
    xy = np.array([[0.0, 0.0], [3.0, 0.0], [100.0, 0.0]])
    z = np.array([[0.0, 0.0], [1.0, 2.0], [50.0, 50.0]])
    # at x = 1: distances 1 and 2 -> weights 1 and 1/4; the far point is not among the k = 2 nearest
    w = np.array([1.0, 0.25]) / 1.25
    np.testing.assert_allclose(idw_lift(xy, z, (1.0, 0.0), k=2), w @ z[:2])
    # midway between two points: their mean
    np.testing.assert_allclose(idw_lift(xy, z, (1.5, 0.0), k=2), z[:2].mean(0))


def test_lift_stays_within_the_neighbours_convex_hull():
    rng = np.random.default_rng(0)
    xy, z = rng.normal(size=(300, 2)), rng.normal(size=(300, 4))
    out = idw_lift(xy, z, (0.1, -0.2), k=8)
    near = np.argsort(np.linalg.norm(xy - [0.1, -0.2], axis=1))[:8]
    assert (out >= z[near].min(0) - 1e-12).all() and (out <= z[near].max(0) + 1e-12).all()


def clusters(n=150, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(3, d))
    labels = np.arange(n) % 3
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


@pytest.mark.parametrize("method,module", [("tsne", "openTSNE"), ("umap", "umap")])
def test_fit_reports_progress_keeps_clusters_apart_places_new_points_and_cancels(method, module):
    pytest.importorskip(module)
    z, labels = clusters()
    state = FakeState()
    e = fit_embedding(state, z, method, seed=0)
    assert e.xy.shape == (len(z), 2) and np.isfinite(e.xy).all()
    assert state.progress and state.progress[-1] == pytest.approx(1.0) and state.status
    # each point's nearest neighbour on the plot is of its own cluster
    d = np.linalg.norm(e.xy[:, None] - e.xy[None], axis=2) + np.eye(len(z)) * 1e9
    assert (labels[d.argmin(1)] == labels).mean() > 0.95
    # a new point near cluster 0's points is placed (by the method's transform) among them
    new = z[labels == 0][:3] + 0.01
    placed = e.transform(new)
    centre = e.xy[labels == 0].mean(0)
    others = [e.xy[labels == c].mean(0) for c in (1, 2)]
    for p in placed:
        assert np.linalg.norm(p - centre) < min(np.linalg.norm(p - o) for o in others)
    # cancelled: no result
    assert fit_embedding(FakeState(cancel_after=1), z, method) is None


def test_too_few_points_or_a_missing_package_is_a_message(monkeypatch):
    with pytest.raises(EmbeddingError, match="at least"):
        fit_embedding(FakeState(), np.zeros((3, 2), np.float32), "tsne")
    from vae_studio.core import embedding

    monkeypatch.setitem(embedding.METHODS, "tsne", ("t-SNE", "no_such_module_for_vae_studio", "openTSNE"))
    with pytest.raises(EmbeddingError, match=r"vae-studio\[projections\]"):
        fit_embedding(FakeState(), np.zeros((50, 2), np.float32), "tsne")
