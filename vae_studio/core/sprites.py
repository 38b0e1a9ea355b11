"""The built-in data set: procedurally rendered greyscale sprites with known generative factors.

In the spirit of dSprites (Matthey et al., 2017): white shapes on a black background, one image for every
combination of five factors, each on a regular grid:

    shape     square, ellipse, heart
    scale     6 values, evenly spaced in [0.5, 1.0]
    rotation  evenly spaced over [0, 2*pi)  (a square repeats every 90 degrees, an ellipse every 180)
    x, y      whole-pixel positions, one pixel apart

Each (shape, scale, rotation) sprite is rendered once, anti-aliased by 4x4 supersampling, into a square box
of ``image_size - positions + 1`` pixels whose outermost pixel ring is always dark; the box is then placed at
every position with a strided view, so no image is drawn on its own and every sprite keeps a dark 1-pixel
margin inside the frame. Rendering is deterministic (same bytes every time).

Images are ordered like dSprites: shape slowest, y fastest; :func:`factor_grid` gives each image's factor
indices in that order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SUPERSAMPLE = 4


@dataclass(frozen=True)
class SpriteSpec:
    image_size: int
    n_rotations: int
    n_positions: int
    n_scales: int = 6
    min_scale: float = 0.5

    @property
    def box(self) -> int:
        """Side of the square a sprite is drawn in; it moves one pixel per position step."""
        return self.image_size - self.n_positions + 1

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return (len(SHAPES), self.n_scales, self.n_rotations, self.n_positions, self.n_positions)

    @property
    def count(self) -> int:
        return int(np.prod(self.factor_sizes))

    def scales(self) -> np.ndarray:
        return np.linspace(self.min_scale, 1.0, self.n_scales)

    def rotations(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.n_rotations) / self.n_rotations


DEFAULT = SpriteSpec(image_size=32, n_rotations=10, n_positions=16)  # 46,080 images
FULL = SpriteSpec(image_size=64, n_rotations=40, n_positions=32)  # dSprites' grid: 737,280 images


def factor_grid(spec: SpriteSpec) -> np.ndarray:
    """(N, 5) int64 factor indices of every image, in image order (shape slowest, y fastest)."""
    grids = np.meshgrid(*[np.arange(n) for n in spec.factor_sizes], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


@functools.lru_cache(maxsize=1)
def _heart_frame() -> tuple[float, float]:
    """Centre (y) and radius that fit the heart curve (x^2+y^2-1)^3 <= x^2 y^3 into the unit disc."""
    t = np.linspace(-1.6, 1.6, 1601)
    x, y = t[None, :], t[:, None]  # the grid by broadcasting: x*x and y**3 are computed per row/column once
    inside = _heart_raw(x, y)
    rows, cols = np.nonzero(inside)
    xs, ys = t[cols], t[rows]
    cy = (ys.min() + ys.max()) / 2
    radius = np.sqrt(xs**2 + (ys - cy) ** 2).max() + 2 * (t[1] - t[0])
    return float(cy), float(radius)


def _heart_raw(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xx, a = x * x, x * x + y * y - 1
    return a * a * a - xx * (y * y * y) <= 0  # products, not ** 3 (NumPy's pow is several times slower)


def _inside(shape: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether points (shape coordinates, y up) lie inside a shape that fits the unit disc."""
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) <= 1 / np.sqrt(2)
    if shape == "ellipse":
        return x * x + (2 * y) ** 2 <= 1
    if shape == "heart":
        cy, radius = _heart_frame()
        return _heart_raw(x * radius, y * radius + cy)
    raise ValueError(f"unknown shape {shape!r}")


def render_boxes(spec: SpriteSpec) -> np.ndarray:
    """Every (shape, scale, rotation) sprite in its box: uint8 (shapes, scales, rotations, box, box)."""
    b, ss = spec.box, SUPERSAMPLE
    # sample points in pixel units from the box centre; y points up so that the heart stands upright
    t = (np.arange(b * ss) + 0.5) / ss - b / 2
    px, py = np.meshgrid(t, -t)  # (b*ss, b*ss)
    reach = b / 2 - 1  # radius of the unit disc in pixels at scale 1: keeps the outer pixel ring dark
    cos, sin = np.cos(spec.rotations()), np.sin(spec.rotations())
    # rotate the sample points by -angle, which turns the shape by +angle (anticlockwise)
    rx = cos[:, None, None] * px + sin[:, None, None] * py  # (R, b*ss, b*ss)
    ry = -sin[:, None, None] * px + cos[:, None, None] * py
    out = np.empty((len(SHAPES), spec.n_scales, spec.n_rotations, b, b), np.uint8)
    for i, shape in enumerate(SHAPES):
        for j, scale in enumerate(spec.scales()):
            r = reach * scale
            inside = _inside(shape, rx / r, ry / r)
            cover = inside.reshape(spec.n_rotations, b, ss, b, ss).mean(axis=(2, 4))
            out[i, j] = np.rint(cover * 255).astype(np.uint8)
    return out


def render(spec: SpriteSpec, order: np.ndarray | None = None) -> torch.Tensor:
    """Render every image in image order, or the images whose indices ``order`` lists, in that order.

    Returns a contiguous uint8 tensor (M, 1, H, W). Work and temporary memory are per sprite (one box placed
    at every position), so the full-size set never needs more than its own uint8 result.
    """
    p, h, b = spec.n_positions, spec.image_size, spec.box
    boxes = render_boxes(spec).reshape(-1, b, b)
    per_box = p * p
    if order is None:
        dest = np.arange(spec.count)
    else:
        order = np.asarray(order, dtype=np.int64)
        if order.ndim != 1 or (len(order) and (order.min() < 0 or order.max() >= spec.count)):
            raise ValueError(f"order must list image indices in 0..{spec.count - 1}")
        dest = np.full(spec.count, -1, np.int64)
        dest[order] = np.arange(len(order))
    out = np.empty((spec.count if order is None else len(order), 1, h, h), np.uint8)
    canvas = np.zeros((h + p - 1, h + p - 1), np.uint8)
    for k, sprite in enumerate(boxes):
        d = dest[k * per_box : (k + 1) * per_box]
        sel = d >= 0
        if not sel.any():
            continue
        # the sprite sits at (p-1, p-1) of the canvas; the h x h window at offset (a, c) shows it shifted by
        # (p-1-a, p-1-c), so reversing the window axes gives window[y, x] = the sprite at position (x, y)
        canvas[p - 1 : p - 1 + b, p - 1 : p - 1 + b] = sprite
        windows = np.lib.stride_tricks.sliding_window_view(canvas, (h, h))[::-1, ::-1]
        block = windows.transpose(1, 0, 2, 3).reshape(per_box, h, h)  # (x, y) order, y fastest; a copy
        out[d[sel], 0] = block[sel]
    return torch.from_numpy(out)


@functools.lru_cache(maxsize=2)
def _render_all(spec: SpriteSpec) -> torch.Tensor:
    return render(spec)


def render_split(
    spec: SpriteSpec, train_idx: np.ndarray, test_idx: np.ndarray, cache: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) images for two lists of image indices, in the order given.

    With ``cache`` every image is rendered once per process and kept (use it for small specs); the split is
    then a copy, so callers own their tensors. Without it only the requested images are rendered, straight
    into the two results (no third copy: use it for the full-size set).
    """
    if cache:
        every = _render_all(spec)
        return every[torch.from_numpy(np.asarray(train_idx))], every[torch.from_numpy(np.asarray(test_idx))]
    return render(spec, train_idx), render(spec, test_idx)
