"""Writing images a user keeps: a PNG grid of images and an animated GIF of frames.

General helpers shared by the latent explorer (traversal grids) and the sampling canvas (sample grids,
interpolations). torch + NumPy + Pillow only, never Qt. Parent folders must exist; errors surface as
``OSError`` / ``ValueError`` with the path or the reason in the message, for the GUI to show.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _as_images(images) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if x.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, C, H, W) with C = 1 or 3, got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("there are no images to save")
    return x.detach().float().cpu()


def grid_array(images, nrow: int, padding: int = 2, pad_value: float = 0.0) -> np.ndarray:
    """Images (N, C, H, W) float in [0, 1] tiled ``nrow`` per row -> uint8 (H', W') or (H', W', 3).

    torchvision's ``make_grid`` layout and its ``save_image`` rounding, byte for byte (tested against them),
    done in NumPy: the grids on screen are drawn while the app starts, and importing torchvision (a second,
    with sympy and triton behind it, and 220 MB) held the GUI thread up on the import lock."""
    x = _as_images(images).clamp(0, 1).numpy()
    n, c, h, w = x.shape
    if n == 1:  # make_grid returns a lone image as it is, without padding
        grid = x[0]
    else:
        ncol = min(max(1, int(nrow)), n)
        rows, cell_h, cell_w = -(-n // ncol), h + padding, w + padding
        cells = np.full((rows * ncol, c, cell_h, cell_w), pad_value, np.float32)
        cells[:n, :, padding:, padding:] = x
        grid = cells.reshape(rows, ncol, c, cell_h, cell_w).transpose(2, 0, 3, 1, 4)
        grid = grid.reshape(c, rows * cell_h, ncol * cell_w)
        grid = np.pad(grid, ((0, 0), (0, padding), (0, padding)), constant_values=pad_value)
    arr = np.clip(grid * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    return np.ascontiguousarray(arr[..., 0] if c == 1 else arr)


def save_grid_png(images, path, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> Path:
    """Save images (N, C, H, W) float in [0, 1] as one PNG, ``nrow`` images per row (:func:`grid_array`'s
    layout; grey images as a grey PNG). Returns the path written."""
    path = Path(path)
    Image.fromarray(grid_array(images, nrow, padding, pad_value)).save(path, format="PNG")
    return path


def save_gif(frames, path, duration_ms: int = 100, loop: int = 0) -> Path:
    """Save frames (a list of uint8 (H, W) or (H, W, 3) arrays, all the same shape) as an animated GIF.

    ``duration_ms`` is the time each frame is shown; ``loop=0`` repeats forever. Pillow merges identical
    consecutive frames into one (adding up their durations), so the file can hold fewer frames than given
    when the animation stands still. Returns the path written."""
    path = Path(path)
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError("there are no frames to save")
    shape = frames[0].shape
    for f in frames:
        if f.dtype != np.uint8:
            raise ValueError(f"GIF frames must be uint8, got {f.dtype}")
        if f.shape != shape:
            raise ValueError(f"all GIF frames must have the same shape: {f.shape} differs from {shape}")
        if not (f.ndim == 2 or (f.ndim == 3 and f.shape[2] in (1, 3))):
            raise ValueError(f"a GIF frame must be (H, W) or (H, W, 3), got {f.shape}")
    images = [Image.fromarray(f[..., 0] if f.ndim == 3 and f.shape[2] == 1 else f) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(1, int(duration_ms)), loop=int(loop), disposal=1)
    return path
