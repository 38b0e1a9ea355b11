"""Directions in latent space and latent arithmetic, for the latent explorer's direction slider.

A direction is a vector ``v`` that the probe moves along: ``z(t) = base + t * v``. Each maker scales ``v`` so
that ``t = 1`` means one whole "length" of what it stands for:

* :func:`class_direction`: the mean latent of class A minus that of class B (``t = 1`` carries a B-like point
  by the whole difference of the means);
* :func:`factor_direction`: the least-squares linear fit that predicts a known generative factor (sprites'
  scale, x, ...) from the latent means; ``t = 1`` changes the predicted factor by its whole range, along the
  shortest such move (the fit's gradient ``w``, scaled by ``range / |w|^2``);
* :func:`point_direction`: from one point to another (``t = 1`` goes all the way);
* :func:`analogy`: ``A - B + C`` ("A is to B as ? is to C").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DirectionError(ValueError):
    """A direction cannot be made from what was given; the message says why, for the user."""


def class_direction(mu: np.ndarray, labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """mean(mu[labels == a]) - mean(mu[labels == b]), float32 (D,)."""
    if labels is None:
        raise DirectionError("the test split has no class labels")
    if a == b:
        raise DirectionError("choose two different classes")
    mu = np.asarray(mu, np.float64)
    labels = np.asarray(labels)
    means = []
    for c in (a, b):
        sel = labels == c
        if not sel.any():
            raise DirectionError(f"class {c} has no test images")
        means.append(mu[sel].mean(0))
    return (means[0] - means[1]).astype(np.float32)


@dataclass
class FactorFit:
    vector: np.ndarray  # (D,) float32: t = 1 changes the predicted factor by its whole range
    weights: np.ndarray  # (D,) float64: the fit's gradient w (factor ~ z.w + intercept)
    intercept: float
    r2: float  # fraction of the factor's variance the fit explains (1: predicted exactly by a line)


def factor_direction(mu: np.ndarray, factor: np.ndarray) -> FactorFit:
    """The least-squares direction that predicts ``factor`` (N,) from the latent means ``mu`` (N, D)."""
    mu = np.asarray(mu, np.float64)
    f = np.asarray(factor, np.float64).reshape(-1)
    if mu.ndim != 2 or len(mu) != len(f):
        raise DirectionError("the factor needs one value per test image")
    if len(f) < 2 or np.ptp(f) == 0:
        raise DirectionError("the factor does not vary over the test images")
    design = np.hstack([mu, np.ones((len(mu), 1))])
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    w, c = coef[:-1], float(coef[-1])
    norm2 = float(w @ w)
    if not np.isfinite(norm2) or norm2 < 1e-20:
        raise DirectionError("the latent means do not predict this factor at all")
    resid = f - design @ coef
    r2 = 1.0 - float(resid @ resid) / float(((f - f.mean()) ** 2).sum())
    return FactorFit((np.ptp(f) * w / norm2).astype(np.float32), w, c, r2)


def point_direction(z_from, z_to) -> np.ndarray:
    """The vector from one latent point to another, float32 (D,)."""
    z_from, z_to = np.asarray(z_from, np.float64).reshape(-1), np.asarray(z_to, np.float64).reshape(-1)
    if z_from.shape != z_to.shape:
        raise DirectionError("the two points have different sizes")
    if np.array_equal(z_from, z_to):
        raise DirectionError("the two points are the same: move the probe between setting them")
    return (z_to - z_from).astype(np.float32)


def analogy(a, b, c) -> np.ndarray:
    """A - B + C, float32 (D,)."""
    a, b, c = (np.asarray(v, np.float64).reshape(-1) for v in (a, b, c))
    if not a.shape == b.shape == c.shape:
        raise DirectionError("the three points have different sizes")
    return (a - b + c).astype(np.float32)


def along(base, vector, t: float) -> np.ndarray:
    """``base + t * vector``, float32 (D,)."""
    return (np.asarray(base, np.float64) + float(t) * np.asarray(vector, np.float64)).astype(np.float32)
