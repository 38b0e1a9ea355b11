"""Nearest neighbours in latent space and the directions the explorer's slider moves along."""
import numpy as np
import pytest

from vae_studio.core.directions import (DirectionError, along, analogy, class_direction, factor_direction,
                                        point_direction)
from vae_studio.core.neighbours import NeighbourIndex


def brute_force(points, z, k):
    d = np.sqrt(((points.astype(np.float64) - z) ** 2).sum(1))
    order = np.lexsort((np.arange(len(d)), d))[:k]
    return order, d[order]


@pytest.mark.parametrize("n, dim, k", [(1, 3, 5), (50, 2, 1), (2000, 20, 10), (5000, 64, 25)])
def test_neighbours_are_the_brute_force_nearest_points(n, dim, k):
    rng = np.random.default_rng(n)
    points = rng.standard_normal((n, dim)).astype(np.float32) * 3
    index = NeighbourIndex(points)
    for _ in range(5):
        z = rng.standard_normal(dim).astype(np.float32) * 3
        idx, dist = index.query(z, k)
        want_idx, want_dist = brute_force(points, z, k)
        assert len(idx) == min(k, n)
        np.testing.assert_allclose(dist, want_dist, rtol=1e-4, atol=1e-3)
        # the same set (ties in float32 may swap two equally far points, so compare by distance)
        np.testing.assert_allclose(np.sort(np.linalg.norm(points[idx] - z, axis=1)), np.sort(want_dist),
                                   rtol=1e-4, atol=1e-3)
        assert np.all(np.diff(dist) >= 0)  # nearest first


def test_a_point_of_the_index_is_its_own_nearest_neighbour_and_duplicates_come_in_index_order():
    points = np.array([[0, 0], [5, 5], [1, 0], [5, 5], [9, 9]], np.float32)
    index = NeighbourIndex(points)
    idx, dist = index.query(points[1], 3)
    assert list(idx) == [1, 3, 4] and dist[0] == pytest.approx(0, abs=1e-3)
    assert index.query([0, 0], 0)[0].size == 0
    with pytest.raises(ValueError, match="3 dimensions"):
        index.query([0, 0, 0], 2)


def test_class_direction_is_the_difference_of_the_class_means():
    mu = np.array([[0, 0], [2, 0], [10, 4], [12, 6], [7, 7]], np.float32)
    labels = np.array([0, 0, 1, 1, 2])
    np.testing.assert_allclose(class_direction(mu, labels, 1, 0), [10, 5])
    with pytest.raises(DirectionError, match="class 3 has no test images"):
        class_direction(mu, labels, 3, 0)
    with pytest.raises(DirectionError, match="two different"):
        class_direction(mu, labels, 1, 1)


def test_factor_direction_recovers_a_linear_factor_and_spans_its_range():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((3000, 6))
    w_true = np.array([0.0, 2.0, -1.0, 0.0, 0.5, 0.0])
    factor = np.clip(np.round(mu @ w_true + 7), 0, 14)  # integer grid values, as the sprites' factors
    fit = factor_direction(mu, factor)
    cos = fit.weights @ w_true / np.linalg.norm(fit.weights) / np.linalg.norm(w_true)
    assert cos > 0.98 and 0.9 < fit.r2 <= 1
    # t = 1 along the vector changes the predicted factor by the factor's whole range
    assert fit.weights @ fit.vector == pytest.approx(np.ptp(factor), rel=1e-4)
    # and it is the shortest such move: parallel to the fit's gradient
    assert abs(fit.vector @ fit.weights) == pytest.approx(np.linalg.norm(fit.vector) * np.linalg.norm(fit.weights),
                                                           rel=1e-5)
    with pytest.raises(DirectionError, match="does not vary"):
        factor_direction(mu, np.ones(len(mu)))


def test_points_and_analogy():
    a, b, c = np.array([1.0, 2.0]), np.array([0.5, 0.0]), np.array([-1.0, 1.0])
    np.testing.assert_allclose(point_direction(b, a), [0.5, 2.0])
    np.testing.assert_allclose(analogy(a, b, c), [-0.5, 3.0])
    np.testing.assert_allclose(along(b, point_direction(b, a), 1.0), a)
    np.testing.assert_allclose(along(b, point_direction(b, a), 0.5), [0.75, 1.0])
    with pytest.raises(DirectionError, match="the same"):
        point_direction(a, a)
