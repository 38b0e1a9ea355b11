"""Working in latent space: encode a split, project it, sample, traverse, interpolate."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .metrics import iter_batches
from .latent_space import GaussianSpace, space_for
from .models import VAE


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@dataclass
class Encoded:
    mu: np.ndarray  # (N, D) float32 posterior means
    logvar: np.ndarray  # (N, D)
    labels: np.ndarray | None  # (N,) int, or None


@torch.no_grad()
def encode_dataset(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 2000,
                   space: GaussianSpace | None = None) -> Encoded:
    """Explorer coordinates (posterior means) and log-variances of uint8 images (N, C, H, W), in the model's
    latent space (``space``, default :func:`space_for`)."""
    model.eval()
    space = space or space_for(model)
    dev = model_device(model)
    mus, lvs = [], []
    for xb, yb in iter_batches(x, y if model.conditional else None, batch_size, dev):
        mu, lv = space.encode(xb, yb)
        mus.append(mu.float().cpu())
        lvs.append(lv.float().cpu())
    d = space.dim
    mu = torch.cat(mus).numpy() if mus else np.zeros((0, d), np.float32)
    lv = torch.cat(lvs).numpy() if lvs else np.zeros((0, d), np.float32)
    return Encoded(mu, lv, None if y is None else y.numpy().astype(np.int64))


@dataclass
class PCA:
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (2, D), rows orthonormal
    explained: np.ndarray  # (2,) fraction of variance

    def project(self, z: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(z) - self.mean) @ self.components.T

    def lift(self, p: np.ndarray, base: np.ndarray) -> np.ndarray:
        """A latent vector whose projection is ``p`` and whose other components are those of ``base``."""
        base = np.asarray(base, np.float64)
        return base + (np.asarray(p) - self.project(base)[0]) @ self.components


def fit_pca(z: np.ndarray, k: int = 2) -> PCA:
    z = np.asarray(z, np.float64)
    mean = z.mean(0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    comps = np.zeros((k, z.shape[1]))
    comps[: min(k, len(vt))] = vt[:k]
    var = s**2
    explained = np.zeros(k)
    explained[: min(k, len(var))] = (var[:k] / var.sum()) if var.sum() > 0 else 0
    return PCA(mean, comps, explained)


def dims_by_kl(kl_per_dim) -> list[int]:
    """Latent dimensions, most active (highest KL) first."""
    return [int(i) for i in np.argsort(-np.asarray(kl_per_dim, dtype=np.float64), kind="stable")]


def _labels(model: VAE, n: int, label: int | None, dev) -> torch.Tensor | None:
    if not model.conditional:
        return None
    if label is None:
        raise ValueError("a conditional model needs a class to decode")
    if not 0 <= label < model.num_classes:
        raise ValueError(f"class {label} is outside 0..{model.num_classes - 1}")
    return torch.full((n,), int(label), dtype=torch.long, device=dev)


@torch.no_grad()
def decode(model: VAE, z, label: int | None = None, space: GaussianSpace | None = None) -> torch.Tensor:
    """Explorer coordinates (N, D) (NumPy or torch) -> images (N, C, H, W) float in [0, 1] on the CPU."""
    space = space or space_for(model)
    dev = model_device(model)
    z = torch.as_tensor(np.asarray(z, dtype=np.float32) if not torch.is_tensor(z) else z, device=dev).float()
    z = z.reshape(-1, space.dim)
    return space.decode_images(z, _labels(model, len(z), label, dev)).cpu()


def prior_latents(latent_dim: int, n: int, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=g) * temperature


def sample_prior(model: VAE, n: int, temperature: float = 1.0, seed: int = 0, label: int | None = None):
    """``n`` images decoded from the model's prior (z ~ N(0, temperature^2 I) for a Gaussian VAE); the same
    seed gives the same images. :class:`~vae_studio.core.latent_space.NoPrior` when the model has none yet."""
    if model.conditional and label is None:
        label = 0
    space = space_for(model)
    return decode(model, space.prior_latents(n, temperature, seed), label, space)


def traverse(z, dims: list[int], lo: float = -3.0, hi: float = 3.0, steps: int = 9) -> np.ndarray:
    """One row per dimension in ``dims``, that dimension swept over [lo, hi] with the others fixed at z.

    Returns latents (len(dims) * steps, D), row-major."""
    z = np.asarray(z, np.float32).reshape(-1)
    vals = np.linspace(lo, hi, steps, dtype=np.float32)
    out = np.repeat(z[None, :], len(dims) * steps, axis=0)
    for r, d in enumerate(dims):
        out[r * steps:(r + 1) * steps, d] = vals
    return out


def lerp(z0, z1, steps: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps)[:, None]
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    return ((1 - t) * z0 + t * z1).astype(np.float32)


def slerp(z0, z1, steps: int) -> np.ndarray:
    """Spherical interpolation (Shoemake 1985); falls back to lerp for (anti)parallel or zero vectors."""
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 < 1e-12 or n1 < 1e-12:
        return lerp(z0, z1, steps)
    cos = np.clip(z0 @ z1 / (n0 * n1), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(z0, z1, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    out = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    return out.astype(np.float32)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) float [0, 1] -> (N, H, W, C) uint8 for display."""
    return (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
