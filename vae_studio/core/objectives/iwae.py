"""The importance-weighted bound of Burda et al. (2016), trained on.

For each image, K codes ``z_k = mu + sigma * eps_k`` (noise from the run's own generator) give log-weights
``log w_k = -gamma * recon(x, z_k) - beta * (log q(z_k|x) - log p(z_k))`` and the loss is
``-log (1/K) sum_k w_k`` (logsumexp), averaged over the batch. With ``beta = gamma = 1`` and BCE,
``log w_k = log p(x, z_k) - log q(z_k|x)`` and the loss is minus the K-sample bound L_K (L_1 is the ELBO,
L_K rises towards log p(x) with K). Its gradient is that of the log-mean-exp: ``sum_k w~_k grad log w_k`` with
the normalised weights ``w~_k`` (tests/core/test_objectives_likelihood.py checks it by brute force). With MSE
the "likelihood" is the squared error, and the bound is one on that objective, not on log p(x).

Reported: ``recon`` the mean over the K draws, ``kl`` the analytic KL of q(z|x) (the VAE's columns), and
``neg_iwae_bound``: -L_K with beta = gamma = 1 (equal to ``total`` for such runs).
"""
from __future__ import annotations

import contextlib
import math

import torch

from ..losses import LossTerms, kl_per_dim, recon_per_sample
from .base import Objective

MAX_DECODES = 5000  # images decoded at once when evaluating (K per image), as metrics.iwae_nll does


def log_weight_parts(model, x, y, k: int, generator, recon: str, autocast=contextlib.nullcontext):
    """(recon, log q(z|x) - log p(z)) of K codes per image, each (K, B), and (mu, logvar) of the encoder."""
    with autocast():
        mu, logvar = model.encode(x, y)
    if mu.dtype in (torch.float16, torch.bfloat16):  # the loss never runs at low precision
        mu, logvar = mu.float(), logvar.float()
    b, d = mu.shape
    eps = torch.randn((k, b, d), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + eps * torch.exp(0.5 * logvar)  # (K, B, D)
    yk = y.repeat(k) if y is not None else None
    with autocast():
        logits = model.decode(z.reshape(k * b, d), yk)
    xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
    rec = recon_per_sample(logits.to(mu.dtype), xk, recon).view(k, b)
    # log N(z; mu, sigma^2) - log N(z; 0, 1): the 2 pi terms cancel, and (z - mu) / sigma is eps
    log_ratio = 0.5 * (z.square() - eps.square() - logvar.unsqueeze(0)).sum(-1)
    return rec, log_ratio, mu, logvar


def neg_bound(log_w: torch.Tensor) -> torch.Tensor:
    """-log (1/K) sum_k exp(log_w[k]) for each column of ``log_w`` (K, B): shape (B,)."""
    return math.log(log_w.shape[0]) - torch.logsumexp(log_w, dim=0)


class IWAEObjective(Objective):
    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t = self.config.train
        rec, log_ratio, mu, logvar = log_weight_parts(model, x, y, self.settings.iw_samples, generator, t.recon,
                                                      autocast)
        total = neg_bound(-t.gamma * rec - beta * log_ratio).mean()
        kld = kl_per_dim(mu, logvar).mean(0)
        return LossTerms(total=total, recon=rec.mean(), kl=kld.sum(), kl_per_dim=kld,
                         extras={"neg_iwae_bound": neg_bound(-(rec + log_ratio)).mean().detach()})

    def evaluate(self, model, x, y, beta, seed: int = 0, batch_size: int = 1000) -> dict[str, float]:
        """As :meth:`Objective.evaluate`, in batches of at most ``MAX_DECODES`` decodes (K per image): the
        bound is a mean over images, so the batch size does not change it."""
        k = self.settings.iw_samples
        return super().evaluate(model, x, y, beta, seed=seed, batch_size=max(1, min(batch_size, MAX_DECODES // k)))
