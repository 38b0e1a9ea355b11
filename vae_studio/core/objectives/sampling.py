"""The VAE's forward pass that also returns the latent draw ``z`` (objectives that score ``z`` itself:
beta-TCVAE's density estimates, FactorVAE's discriminator)."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn


def forward_with_z(model: nn.Module, x, y, generator, autocast=contextlib.nullcontext):
    """(logits, mu, logvar, z) of one reparameterised draw ``z = mu + eps * sigma``, all float32; ``eps``
    comes from ``generator`` exactly as in ``VAE.forward`` (the same draw), and the network runs under
    ``autocast``."""
    with autocast():
        mu, logvar = model.encode(x, y)
    mu, logvar = mu.float(), logvar.float()
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=torch.float32)
    z = torch.addcmul(mu, eps, torch.exp(0.5 * logvar))
    with autocast():
        logits = model.decode(z, y)
    return logits.float(), mu, logvar, z
