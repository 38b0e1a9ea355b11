"""Putting two runs' views of the same images side by side: orthogonal Procrustes between 2-D layouts.

Two runs trained on the same data each map the test split to their own latent space; their first two
principal components are each fixed only up to a rotation and a reflection (and sign flips of the axes), so
the same image can sit top left in one run's scatter and bottom right in the other's. :func:`align` turns
(rotates and, where needed, reflects) one layout about its centre and moves it onto the other's centre, so
that the same images sit in comparable places; it does not rescale, so each layout keeps its own units.

NumPy only (its SVD); no SciPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def orthogonal_procrustes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R (k, k) that minimises ||a @ R - b|| (Frobenius) for a, b of shape (N, k).

    Schönemann (1966): with U S Vt the SVD of a.T @ b, R = U @ Vt. R may include a reflection
    (det R = -1): PCA axes have arbitrary signs, so a reflection is as legitimate as a rotation here."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"the two layouts must have the same shape (N, k), got {a.shape} and {b.shape}")
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


@dataclass
class Alignment:
    rotation: np.ndarray  # (k, k) orthogonal
    source_mean: np.ndarray  # (k,)
    target_mean: np.ndarray  # (k,)

    def apply(self, xy: np.ndarray) -> np.ndarray:
        """Source coordinates (N, k) (or one (k,) point) in the target's frame."""
        xy = np.asarray(xy, np.float64)
        return (xy - self.source_mean) @ self.rotation + self.target_mean

    @property
    def reflects(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)


def fit_alignment(source: np.ndarray, target: np.ndarray) -> Alignment:
    """The rotation (or reflection) about the centres that best maps ``source`` (N, k) onto ``target``
    (N, k), row i of each being the same image."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if len(source) != len(target) or len(source) == 0:
        raise ValueError(f"the two layouts must hold the same images, got {len(source)} and {len(target)} points")
    ms, mt = source.mean(0), target.mean(0)
    return Alignment(orthogonal_procrustes(source - ms, target - mt), ms, mt)


def align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (N, k) turned about its centre and moved onto ``target``'s centre, to best match it."""
    return fit_alignment(source, target).apply(source)
