"""DIP-VAE's objective (Kumar et al. 2018): the VAE's loss plus a penalty on a covariance matrix ``C`` of
the latent code, estimated on the batch (biased, 1/B, as disentanglement_lib computes it):

- type i: ``C = Cov[mu(x)]``, the covariance of the encoder means;
- type ii: ``C = Cov[mu(x)] + E[diag(sigma^2(x))]``, the covariance of q(z) = E_x q(z|x).

``total = gamma * recon + beta * KL + lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2`` (per
sample for the first two, per batch for the penalty, which is a property of the batch as a whole). The own
terms ``dip_od`` and ``dip_d`` are the two sums of squares, unweighted.
"""
from __future__ import annotations

import contextlib

import torch

from ..losses import LossTerms, vae_loss
from .base import Objective


def latent_covariance(mu: torch.Tensor, logvar: torch.Tensor, dip_type: str) -> torch.Tensor:
    """(D, D) covariance of the batch's encoder means (type "i"), plus the mean posterior variance on the
    diagonal (type "ii")."""
    centred = mu - mu.mean(0, keepdim=True)
    cov = centred.T @ centred / mu.shape[0]
    if dip_type == "ii":
        cov = cov + torch.diag(torch.exp(logvar).mean(0))
    elif dip_type != "i":
        raise ValueError(f"unknown DIP-VAE type {dip_type!r}")
    return cov


def dip_penalties(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of squared off-diagonal entries, sum of squared (diagonal - 1)) of ``cov``."""
    diag = torch.diagonal(cov)
    off = cov.square().sum() - diag.square().sum()
    return off, (diag - 1).square().sum()


class DIPVAEObjective(Objective):
    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t, s = self.config.train, self.settings
        logits, mu, logvar = self.forward(model, x, y, generator, autocast)
        terms = vae_loss(logits, x, mu, logvar, beta=beta, gamma=t.gamma, recon=t.recon)
        od, d = dip_penalties(latent_covariance(mu, logvar, s.dip_type))
        terms.total = terms.total + s.lambda_od * od + s.lambda_d * d
        terms.extras = {"dip_od": od, "dip_d": d}
        return terms
