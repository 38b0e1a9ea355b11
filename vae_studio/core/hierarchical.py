"""A hierarchical VAE with Ladder-VAE inference (Sonderby et al. 2016).

Levels are numbered from the bottom: z1 feeds the decoder, zL is the top. The generative model is
``p(zL) = N(0, I)``, ``p(z_i | z_{i+1}) = N(mu_p, sigma_p^2)`` (a small MLP of z_{i+1}) and ``p(x | z1)``, the
same Bernoulli decoder as the flat VAE. Inference is top-down: a deterministic bottom-up pass (the flat
VAE's encoder, then one hidden layer per level) gives each level a likelihood estimate ``(mu_hat, sigma_hat)``;
the top level's posterior is that estimate, and each lower level's posterior is the precision-weighted
combination of its estimate with the prior computed from the level above it:
``sigma_q^2 = 1 / (sigma_hat^-2 + sigma_p^-2)``, ``mu_q = (mu_hat sigma_hat^-2 + mu_p sigma_p^-2) sigma_q^2``.
The KL of each level is ``KL(q(z_i | ...) || p(z_i | z_{i+1}))``, analytic given the drawn z_{i+1}.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from .config import ModelConfig
from .losses import recon_per_sample
from .models import LOGVAR_RANGE, ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from .variants import get_variant
from .variants.hvae import level_dims


@dataclass
class Level:
    mu: torch.Tensor  # (B, d) posterior mean
    logvar: torch.Tensor  # (B, d) posterior log-variance
    prior_mu: torch.Tensor  # (B, d) prior mean (zeros at the top)
    prior_logvar: torch.Tensor  # (B, d)
    z: torch.Tensor  # (B, d) the drawn (or mean) value

    def kl_per_dim(self) -> torch.Tensor:
        """KL(N(mu, e^logvar) || N(prior_mu, e^prior_logvar)) of each sample and dimension, (B, d)."""
        return 0.5 * (self.prior_logvar - self.logvar
                      + (self.logvar.exp() + (self.mu - self.prior_mu).square()) * torch.exp(-self.prior_logvar) - 1)


def _draw(mu, logvar, generator, sample: bool, temperature: float = 1.0):
    if not sample:
        return mu
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=torch.float32)
    return mu + eps.to(mu.dtype) * torch.exp(0.5 * logvar) * temperature


def log_normal(z, mu, logvar) -> torch.Tensor:
    """log N(z; mu, e^logvar) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).square() * torch.exp(-logvar)).sum(-1)


class HierarchicalVAE(nn.Module):
    num_classes = 0
    conditional = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.dims = level_dims(cfg, get_variant(cfg.kind).settings(cfg.settings))
        self.encoder = ConvEncoder(cfg) if cfg.arch == "conv" else MLPEncoder(cfg)
        h = self.encoder.out_dim
        self.up = nn.ModuleList(nn.Sequential(nn.Linear(h, h), nn.ReLU()) for _ in self.dims[1:])
        self.q_stats = nn.ModuleList(nn.Linear(h, 2 * d) for d in self.dims)
        self.p_nets = nn.ModuleList(nn.Sequential(nn.Linear(above, h), nn.ReLU(), nn.Linear(h, 2 * d))
                                    for d, above in zip(self.dims, self.dims[1:]))
        self.decoder = ConvDecoder(cfg, self.dims[0]) if cfg.arch == "conv" else MLPDecoder(cfg, self.dims[0])

    @property
    def levels(self) -> int:
        return len(self.dims)

    @property
    def latent_dim(self) -> int:
        """The top level's size: :meth:`encode` and :meth:`decode` speak of the top level, so that code asking
        for one Gaussian vector sees the coarsest latent (``core/latent_space.py`` picks other levels)."""
        return self.dims[-1]

    def prior(self, i: int, z_above: torch.Tensor):
        """(mu, logvar) of p(z_{i+1} | z_{i+2}) for 0-based level ``i`` below the top."""
        mu, logvar = self.p_nets[i](z_above).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def infer(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True,
              keep: dict[int, torch.Tensor] | None = None) -> list[Level]:
        """Top-down inference: the levels, bottom first. ``sample``: draw each z from its posterior (else take
        its mean); ``keep``: {level: z} values used instead of inferring those levels (the levels below still
        follow them)."""
        d = [self.encoder(x)]
        for up in self.up:
            d.append(up(d[-1]))
        hats = [q(di).chunk(2, dim=1) for q, di in zip(self.q_stats, d)]
        levels: list[Level | None] = [None] * self.levels
        top = self.levels - 1
        mu, logvar = hats[top][0], hats[top][1].clamp(*LOGVAR_RANGE)
        zeros = torch.zeros_like(mu)
        z = keep[top] if keep and top in keep else _draw(mu, logvar, generator, sample)
        levels[top] = Level(mu, logvar, zeros, zeros, z)
        for i in range(top - 1, -1, -1):
            mu_p, lv_p = self.prior(i, z)
            mu_h, lv_h = hats[i][0], hats[i][1].clamp(*LOGVAR_RANGE)
            prec_h, prec_p = torch.exp(-lv_h), torch.exp(-lv_p)
            logvar = -torch.log(prec_h + prec_p)
            mu = (mu_h * prec_h + mu_p * prec_p) * torch.exp(logvar)
            z = keep[i] if keep and i in keep else _draw(mu, logvar, generator, sample)
            levels[i] = Level(mu, logvar, mu_p, lv_p, z)
        return levels

    def generate(self, z: torch.Tensor, level: int | None = None, generator: torch.Generator | None = None,
                 sample: bool = True, temperature: float = 1.0) -> list[torch.Tensor]:
        """Down the generative path from the value ``z`` of 0-based ``level`` (default: the top): each level
        below drawn from p(z_i | z_{i+1}) with ``temperature`` (or its mean, without ``sample``). Returns the
        values of levels 0..level, bottom first."""
        level = self.levels - 1 if level is None else level
        zs = [z]
        for i in range(level - 1, -1, -1):
            mu, logvar = self.prior(i, zs[-1])
            zs.append(_draw(mu, logvar, generator, sample, temperature))
        return zs[::-1]

    def encode(self, x: torch.Tensor, y=None):
        """(mu, logvar) of the top level's posterior."""
        top = self.infer(x, sample=False)[-1]
        return top.mu, top.logvar

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Top-level values (B, dL) -> logits (B, C, H, W), the levels below at their conditional means."""
        return self.decoder(self.generate(z, sample=False)[0])

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor, y=None) -> torch.Tensor:
        return torch.sigmoid(self.decode(z, y))

    def forward(self, x: torch.Tensor, y=None, generator: torch.Generator | None = None):
        """(logits, levels) of one draw of every level."""
        levels = self.infer(x, generator)
        return self.decoder(levels[0].z), levels

    def elbo_terms(self, x, y, generator, recon: str = "bce"):
        """(recon (B,), KL per dimension (B, sum of the level sizes), bottom level first)."""
        logits, levels = self(x, None, generator)
        return recon_per_sample(logits.float(), x, recon), torch.cat([lv.kl_per_dim() for lv in levels], dim=1)

    def log_weights(self, x, generator) -> torch.Tensor:
        """(B,) one importance weight log p(x, z) - log q(z | x) of a draw of every level (Bernoulli decoder)."""
        logits, levels = self(x, None, generator)
        out = -recon_per_sample(logits.float(), x, "bce")
        for lv in levels:
            out = out + log_normal(lv.z, lv.prior_mu, lv.prior_logvar) - log_normal(lv.z, lv.mu, lv.logvar)
        return out
