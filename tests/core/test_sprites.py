"""The built-in sprites: every factor combination once, deterministic, and the factors match the pixels."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import torch

from vae_studio.core import sprites
from vae_studio.core.config import DataConfig
from vae_studio.core.data import load_dataset, split_indices


@pytest.fixture(scope="module")
def data():
    start = time.perf_counter()
    d = load_dataset(DataConfig(dataset="sprites", seed=0))
    print(f"\ndefault sprites loaded in {time.perf_counter() - start:.2f} s")
    return d


@pytest.fixture(scope="module")
def every(data):
    """All default images in image order, with their factors (the loader above filled the cache)."""
    images = torch.cat([data.train_x, data.test_x])
    factors = np.concatenate([data.train_factors, data.test_factors])
    return images[:, 0].float(), factors


def _digest(x: torch.Tensor) -> str:
    return hashlib.sha256(x.numpy().tobytes()).hexdigest()


def test_shapes_and_metadata(data):
    assert data.train_x.shape == (41472, 1, 32, 32) and data.test_x.shape == (4608, 1, 32, 32)
    assert data.train_x.dtype == torch.uint8 and data.train_x.is_contiguous() and data.test_x.is_contiguous()
    assert data.factor_names == ["shape", "scale", "rotation", "x", "y"]
    assert data.factor_sizes == [3, 6, 10, 16, 16]
    assert data.class_names == ["square", "ellipse", "heart"]
    assert data.train_factors.shape == (41472, 5) and data.test_factors.shape == (4608, 5)
    assert torch.equal(data.train_y, torch.from_numpy(data.train_factors[:, 0]))
    assert torch.equal(data.test_y, torch.from_numpy(data.test_factors[:, 0]))
    assert data.channels == 1 and data.image_size == 32 and data.num_classes == 3 and data.has_factors
    assert not data.binarize


def test_every_combination_exactly_once(every):
    _, factors = every
    sizes = np.array([3, 6, 10, 16, 16])
    assert factors.min() == 0 and (factors.max(axis=0) == sizes - 1).all()
    flat = np.ravel_multi_index(factors.T, sizes)
    assert np.array_equal(np.sort(flat), np.arange(46080))


def test_deterministic_and_images_follow_their_factors(data):
    fresh = sprites.render(sprites.DEFAULT)  # not the cached copy
    again = sprites.render(sprites.DEFAULT)
    assert _digest(fresh) == _digest(again)
    # each loaded image is the rendered image of its factor combination
    flat = np.ravel_multi_index(data.test_factors.T, data.factor_sizes)
    assert torch.equal(data.test_x, fresh[torch.from_numpy(flat)])
    flat = np.ravel_multi_index(data.train_factors[:500].T, data.factor_sizes)
    assert torch.equal(data.train_x[:500], fresh[torch.from_numpy(flat)])


def test_pixel_range_and_dark_frame(every):
    images, _ = every
    assert images.min() == 0 and images.max() == 255
    border = torch.cat([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], dim=1)
    assert border.max() == 0  # a dark 1-pixel margin: no sprite leaves the frame
    assert (images.flatten(1).max(dim=1).values == 255).all()  # every image shows a sprite


def test_centre_of_mass_follows_position(every):
    images, factors = every
    mass = images.sum(dim=(1, 2))
    grid = torch.arange(32, dtype=torch.float32)
    com_x = (images.sum(dim=1) * grid).sum(dim=1) / mass
    com_y = (images.sum(dim=2) * grid).sum(dim=1) / mass
    assert np.corrcoef(com_x.numpy(), factors[:, 3])[0, 1] > 0.95
    assert np.corrcoef(com_y.numpy(), factors[:, 4])[0, 1] > 0.95
    # one pixel per position step
    dx = com_x.numpy()[factors[:, 3] == 15].mean() - com_x.numpy()[factors[:, 3] == 0].mean()
    assert dx == pytest.approx(15, abs=0.5)


def test_larger_scale_lights_more_pixels(every):
    images, factors = every
    lit = images.sum(dim=(1, 2)).numpy()
    for shape in range(3):
        means = [lit[(factors[:, 0] == shape) & (factors[:, 1] == s)].mean() for s in range(6)]
        assert all(b > a for a, b in zip(means, means[1:])), means


def test_rotation_changes_asymmetric_shapes():
    boxes = sprites.render_boxes(sprites.DEFAULT).astype(int)  # (shape, scale, rotation, box, box)
    for shape in (1, 2):  # ellipse, heart
        assert np.abs(boxes[shape, -1, 1] - boxes[shape, -1, 0]).sum() > 1000
    # a square turned by 180 degrees (rotation index 5 of 10) is the same square
    assert np.abs(boxes[0, -1, 5] - boxes[0, -1, 0]).max() <= 1


def test_split_is_seeded(data):
    same = load_dataset(DataConfig(dataset="sprites", seed=0))
    assert np.array_equal(same.test_factors, data.test_factors) and torch.equal(same.test_x, data.test_x)
    other = load_dataset(DataConfig(dataset="sprites", seed=1))
    assert not np.array_equal(other.test_factors, data.test_factors)
    # the cache hands out copies: changing one data set leaves the next load intact
    same.test_x.zero_()
    assert torch.equal(load_dataset(DataConfig(dataset="sprites", seed=0)).test_x, data.test_x)


def test_full_grid_spec_without_building_it():
    spec = sprites.FULL
    assert spec.factor_sizes == (3, 6, 40, 32, 32) and spec.count == 737_280 and spec.image_size == 64
    assert np.allclose(spec.rotations()[[0, -1]], [0, 2 * np.pi * 39 / 40])
    assert np.allclose(spec.scales(), np.linspace(0.5, 1.0, 6))
    boxes = sprites.render_boxes(spec)
    assert boxes.shape == (3, 6, 40, 33, 33)
    ring = np.concatenate([boxes[..., 0, :], boxes[..., -1, :], boxes[..., :, 0], boxes[..., :, -1]], axis=-1)
    assert ring.max() == 0 and boxes.max() == 255
    # a few chosen images, rendered on their own, in the order asked
    factors = sprites.factor_grid(spec)
    picks = np.array([737_279, 0, 31, 31 * 32, 400_000])
    images = sprites.render(spec, picks)
    assert images.shape == (5, 1, 64, 64) and images.dtype == torch.uint8
    com = [np.average(np.arange(64), weights=images[i, 0].float().sum(dim=0).numpy()) for i in range(5)]
    assert com[3] - com[1] == pytest.approx(31, abs=0.5)  # x index 31 vs 0, same sprite
    assert np.array_equal(factors[737_279], [2, 5, 39, 31, 31])


def test_render_order_matches_full_render():
    spec = sprites.SpriteSpec(image_size=12, n_rotations=3, n_positions=4, n_scales=2)
    everything = sprites.render(spec)
    assert everything.shape == (spec.count, 1, 12, 12)
    train, test = split_indices(spec.count, seed=3)
    a, b = sprites.render_split(spec, train, test)
    assert torch.equal(a, everything[torch.from_numpy(train)]) and torch.equal(b, everything[torch.from_numpy(test)])
