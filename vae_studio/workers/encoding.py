"""Encoding a data split for the latent explorer: a plain task function for a :class:`~.tasks.TaskRunner`.

:func:`encode_split` takes a task state (``is_cancelled()``, ``set_progress()``), a model *copy* (never a
model being trained) and uint8 images; it encodes in chunks, giving up between chunks when cancelled, and
returns NumPy arrays that cross threads safely. It is unit-tested with a fake state and no thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.latent import encode_dataset
from ..core.latent_space import space_for

CHUNK = 2000  # images encoded between checks for cancellation


@dataclass
class EncodedSplit:
    mu: np.ndarray  # (N, D) float32 posterior means
    logvar: np.ndarray  # (N, D) float32
    labels: np.ndarray | None  # (N,) int64, or None without labels
    kl: np.ndarray  # (D,) float64: mean KL per dimension over the split, nats
    code_usage: np.ndarray | None = None  # (K,) cells of the split per code (a discrete code grid), else None


def kl_per_dim(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean KL(q(z|x) || N(0, I)) per latent dimension over a split, in nats (zeros for an empty split)."""
    if len(mu) == 0:
        return np.zeros(mu.shape[1] if mu.ndim == 2 else 0)
    lv = logvar.astype(np.float32, copy=False)
    return (0.5 * (np.square(mu, dtype=np.float32) + np.exp(lv) - 1.0 - lv)).mean(0, dtype=np.float64)


def encode_split(state, model, x: torch.Tensor, y: torch.Tensor | None, chunk: int = CHUNK,
                 space=None) -> EncodedSplit | None:
    """Posterior means, log-variances and KL per dimension of ``x`` (uint8 (N, C, H, W)) in the coordinates of
    ``space`` (default: the model's latent space), and the codes' usage for a code grid; None if cancelled."""
    n = len(x)
    mus, lvs, labels = [], [], []
    with torch.inference_mode():
        for i in range(0, max(n, 1), chunk):  # an empty split still gives (0, D) arrays
            if state.is_cancelled():
                return None
            enc = encode_dataset(model, x[i:i + chunk], None if y is None else y[i:i + chunk], batch_size=chunk,
                                 space=space)
            mus.append(enc.mu)
            lvs.append(enc.logvar)
            labels.append(enc.labels)
            state.set_progress(min(n, i + chunk) / max(n, 1))
    mu = np.ascontiguousarray(np.concatenate(mus), np.float32)
    logvar = np.ascontiguousarray(np.concatenate(lvs), np.float32)
    lab = None if y is None else np.ascontiguousarray(np.concatenate(labels))
    if state.is_cancelled():
        return None
    usage = (space or space_for(model)).code_usage(torch.from_numpy(mu))
    return EncodedSplit(mu, logvar, lab, kl_per_dim(mu, logvar), None if usage is None else usage.numpy())
