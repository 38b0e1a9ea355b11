"""Orthogonal Procrustes: the rotation (or reflection) that lays one run's 2-D view onto another's."""
import numpy as np
import pytest

from vae_studio.core.alignment import align, fit_alignment, orthogonal_procrustes


def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@pytest.mark.parametrize("angle", [0.3, 2.0, -2.8])
def test_recovers_a_known_rotation_and_shift(angle):
    rng = np.random.default_rng(0)
    target = rng.normal(size=(200, 2)) * [3.0, 1.0]
    r = rotation(angle)
    source = (target - target.mean(0)) @ r.T + [5.0, -2.0]  # the same points turned and moved
    a = fit_alignment(source, target)
    np.testing.assert_allclose(a.rotation, r, atol=1e-9)  # undoes the turn: R = r.T.T
    np.testing.assert_allclose(align(source, target), target, atol=1e-9)
    assert not a.reflects


def test_recovers_a_reflection_as_pca_sign_flips_make():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(100, 2)) * [2.0, 0.5]
    source = target * [1.0, -1.0]  # the second axis flipped
    a = fit_alignment(source, target)
    assert a.reflects
    np.testing.assert_allclose(a.apply(source), target, atol=1e-9)


def test_noise_leaves_the_best_rotation_close_and_the_fit_better_than_none():
    rng = np.random.default_rng(2)
    target = rng.normal(size=(500, 2)) * [3.0, 1.0]
    source = target @ rotation(1.0).T + rng.normal(scale=0.1, size=target.shape)
    r = orthogonal_procrustes(source, target)
    np.testing.assert_allclose(r, rotation(1.0), atol=0.02)
    assert np.abs(align(source, target) - target).mean() < 0.2 < np.abs(source - target).mean()


def test_layouts_of_different_images_are_refused():
    with pytest.raises(ValueError):
        fit_alignment(np.zeros((3, 2)), np.zeros((4, 2)))
