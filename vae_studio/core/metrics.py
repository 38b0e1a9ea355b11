"""How good a model is, on a held-out split: negative ELBO and its parts, per sample, in nats."""
from __future__ import annotations

import torch

from .losses import kl_per_dim, recon_per_sample
from .models import VAE


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def iter_batches(x: torch.Tensor, y: torch.Tensor | None, batch_size: int, device: torch.device):
    """uint8 images (and labels) -> float batches on the device."""
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device).float().div_(255.0)
        yb = y[i:i + batch_size].to(device) if y is not None else None
        yield xb, yb


@torch.no_grad()
def evaluate_elbo(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *, beta: float = 1.0,
                  gamma: float = 1.0, recon: str = "bce", seed: int = 0, batch_size: int = 1000) -> dict:
    """Single-sample ELBO terms over a whole split (uint8 images), averaged per sample.

    Returns ``recon``, ``kl``, ``kl_per_dim`` (list), ``neg_elbo`` (recon + KL: the true negative ELBO
    for BCE) and ``total`` (the training objective gamma*recon + beta*KL). The noise is seeded so the
    same model gives the same numbers.
    """
    was_training = model.training
    model.eval()
    dev = _device(model)
    g = torch.Generator(device=dev).manual_seed(seed)
    rec_sum = torch.zeros((), device=dev, dtype=torch.float64)
    kld_sum = torch.zeros(model.latent_dim, device=dev, dtype=torch.float64)
    yb_needed = y if model.conditional else None
    for xb, yb in iter_batches(x, yb_needed, batch_size, dev):
        mu, logvar = model.encode(xb, yb)
        z = mu + torch.randn(mu.shape, generator=g, device=dev) * torch.exp(0.5 * logvar)
        rec_sum += recon_per_sample(model.decode(z, yb), xb, recon).double().sum()
        kld_sum += kl_per_dim(mu, logvar).double().sum(0)
    model.train(was_training)
    n = max(len(x), 1)
    rec = float(rec_sum) / n
    kld = (kld_sum / n).tolist()
    kl = float(sum(kld))
    return {"recon": rec, "kl": kl, "kl_per_dim": kld, "neg_elbo": rec + kl, "total": gamma * rec + beta * kl,
            "n": len(x)}
