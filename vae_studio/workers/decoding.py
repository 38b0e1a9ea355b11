"""Decoding latents into images and grid pictures; :func:`decode_grid` is the task function for big grids.

:func:`decode_latents`, :func:`grid_image` and :func:`cell_at` are the pure helpers the panels call on the GUI
thread for small grids; :func:`decode_grid` decodes a big grid in chunks for a latest-wins
:class:`~.tasks.TaskRunner`, giving up between chunks when a newer request cancels it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.export import grid_array
from ..core.latent import decode
from ..core.models import VAE

CHUNK = 256  # images decoded between checks for cancellation
GRID_PADDING = 2
GRID_PAD_VALUE = 0.3  # grey lines between the cells, visible on black and white backgrounds


def decode_latents(model: VAE, z: np.ndarray, labels: np.ndarray | None = None) -> torch.Tensor:
    """Latents (N, D) -> images (N, C, H, W) float [0, 1] on the CPU; ``labels`` (N,) one class per row
    for a conditional model (each class decoded with :func:`core.latent.decode`)."""
    z = np.asarray(z, np.float32).reshape(len(z), -1)
    if labels is None or not model.conditional:
        return decode(model, z, 0 if model.conditional else None)
    labels = np.asarray(labels, np.int64)
    out = None
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        imgs = decode(model, z[rows], int(c))
        if out is None:
            out = torch.empty((len(z), *imgs.shape[1:]), dtype=imgs.dtype)
        out[torch.from_numpy(rows)] = imgs
    return out


def grid_image(images, nrow: int) -> np.ndarray:
    """Images (N, C, H, W) float [0, 1] (torch or NumPy) -> one uint8 picture (H', W') or (H', W', 3),
    row-major, cells ``GRID_PADDING`` pixels apart on grey; :func:`cell_at` maps a pixel back to an image."""
    return grid_array(images, nrow, padding=GRID_PADDING, pad_value=GRID_PAD_VALUE)


def cell_at(x: float, y: float, n: int, nrow: int, size: tuple[int, int]) -> int | None:
    """The index of the image under pixel (x, y) of :func:`grid_image`'s picture, or None (padding/outside).

    ``size`` is one image's (height, width)."""
    h, w = size
    ncol = min(max(1, nrow), n)
    col, cx = divmod(x - GRID_PADDING, w + GRID_PADDING)
    row, cy = divmod(y - GRID_PADDING, h + GRID_PADDING)
    if x < GRID_PADDING or y < GRID_PADDING or cx >= w or cy >= h or col >= ncol:
        return None
    i = int(row) * ncol + int(col)
    return i if 0 <= i < n else None


@dataclass
class DecodedGrid:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    grid: np.ndarray  # uint8 (H', W') or (H', W', 3), see grid_image


def decode_grid(state, model: VAE, z: np.ndarray, labels: np.ndarray | None = None, nrow: int = 8,
                chunk: int = CHUNK) -> DecodedGrid | None:
    """Decode ``z`` (N, D) with ``model`` (an eval copy for display, never the model being trained) in chunks
    and lay the images out ``nrow`` per row; None when cancelled."""
    z = np.asarray(z, np.float32)
    parts = []
    for i in range(0, len(z), chunk):
        if state.is_cancelled():
            return None
        parts.append(decode_latents(model, z[i:i + chunk], None if labels is None else labels[i:i + chunk]))
        state.set_progress(min(len(z), i + chunk) / len(z))
    if not parts or state.is_cancelled():
        return None
    images = torch.cat(parts)
    return DecodedGrid(images.numpy(), grid_image(images, nrow))
