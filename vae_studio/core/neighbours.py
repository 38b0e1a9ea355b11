"""The nearest test images to a point of latent space: a brute-force index over the encoded means.

Exact Euclidean nearest neighbours by one matrix-vector product and a partial sort:
``|x - z|^2 = |x|^2 - 2 x.z + |z|^2``, with ``|x|^2`` computed once when the index is built, then
``np.argpartition`` for the k smallest and a sort of those k only. Measured here (2 cores, float32, one torch
thread; ``benchmarks/latent_latency.py``): about 0.04 ms per query for 10,000 points and 0.23 ms for 70,000
points of 20 dimensions, so it runs on every move of the probe; a tree or an approximate index would buy
nothing at these sizes.
"""
from __future__ import annotations

import numpy as np
import torch


class NeighbourIndex:
    """Exact k-nearest-neighbour search over the rows of ``points`` (N, D), Euclidean distance."""

    def __init__(self, points: np.ndarray):
        points = np.asarray(points)
        if points.ndim != 2:
            raise ValueError(f"points must be an (N, D) array, got shape {points.shape}")
        self.points = np.ascontiguousarray(points, np.float32)
        self.sq_norms = np.einsum("ij,ij->i", self.points, self.points, dtype=np.float64).astype(np.float32)
        self._points_t = torch.from_numpy(self.points)  # shares the memory

    def __len__(self) -> int:
        return len(self.points)

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def query(self, z, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) of the ``k`` points nearest to ``z`` (D,), nearest first (fewer when the
        index holds fewer points)."""
        z = np.asarray(z, np.float32).reshape(-1)
        if len(z) != self.dim:
            raise ValueError(f"the point has {len(z)} dimensions, the index {self.dim}")
        k = max(0, min(int(k), len(self.points)))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        # |x|^2 - 2 x.z: the order of |x - z|^2. torch.mv on torch's threads (one beside the GUI in the app):
        # NumPy's `@` goes to OpenBLAS, whose extra threads spin on a small machine and slow the GUI down
        xz = torch.mv(self._points_t, torch.from_numpy(z)).numpy()
        d2 = self.sq_norms - 2.0 * xz
        part = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
        order = part[np.lexsort((part, d2[part]))]  # by distance, ties by index (a stable answer)
        dist = np.sqrt(np.maximum(d2[order] + float(z @ z), 0.0))
        return order.astype(np.int64), dist.astype(np.float32)
