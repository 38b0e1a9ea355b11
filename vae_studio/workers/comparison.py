"""Two runs side by side: a task function that encodes the test split with both and aligns their views.

Each run's view is the first two principal components of its means; the second run's view is then turned
(orthogonal Procrustes, core/alignment.py) onto the first's, so the same images sit in comparable places.
Like :func:`~.encoding.encode_split`, it takes model copies, returns NumPy arrays and gives up when cancelled.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.alignment import Alignment, fit_alignment
from ..core.latent import fit_pca
from .encoding import EncodedSplit, encode_split


@dataclass
class Comparison:
    a: EncodedSplit
    b: EncodedSplit
    xy_a: np.ndarray  # (N, 2) run A's PCA view
    xy_b: np.ndarray  # (N, 2) run B's PCA view, aligned onto A's
    alignment: Alignment  # B's PCA coordinates -> the aligned view
    explained_a: np.ndarray  # (2,) fraction of variance of each PCA view
    explained_b: np.ndarray


class _Halves:
    """The state seen by each of the two encodings: progress over the first or the second half."""

    def __init__(self, state, half: int):
        self.state, self.half = state, half

    def is_cancelled(self) -> bool:
        return self.state.is_cancelled()

    def set_progress(self, f: float) -> None:
        self.state.set_progress(0.5 * (self.half + f))

    def set_status(self, text: str) -> None:
        self.state.set_status(text)


def encode_and_align(state, model_a, model_b, x: torch.Tensor, y: torch.Tensor | None) -> Comparison | None:
    """Encode ``x`` (uint8 (N, C, H, W)) with both models, PCA each, align B's view onto A's; None if
    cancelled."""
    a = encode_split(_Halves(state, 0), model_a, x, y)
    if a is None or state.is_cancelled():
        return None
    b = encode_split(_Halves(state, 1), model_b, x, y)
    if b is None or state.is_cancelled():
        return None
    pa, pb = fit_pca(a.mu), fit_pca(b.mu)
    xy_a, xy_b = pa.project(a.mu), pb.project(b.mu)
    alignment = fit_alignment(xy_b, xy_a)
    return Comparison(a, b, xy_a, alignment.apply(xy_b), alignment, pa.explained, pb.explained)
