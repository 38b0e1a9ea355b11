"""beta-TCVAE's objective (Chen et al. 2018).

The KL term's expectation splits into three parts, each estimated from the batch's draws ``z_i ~ q(z|x_i)``:

    E[log q(z|x) - log p(z)] =  E[log q(z|x) - log q(z)]               index-code MI
                              + E[log q(z) - sum_j log q(z_j)]          total correlation (TC)
                              + E[sum_j log q(z_j) - log p(z_j)]        dimension-wise KL

``total = gamma_rec * recon + alpha * MI + beta * TC + gamma * dim-KL`` per sample (the run's beta is not
used: the three weights replace it). The aggregate posterior ``q(z) = 1/N sum_n q(z|x_n)`` over the N images
of the data set is estimated from the batch of B:

- minibatch stratified sampling (``mss``, the paper's appendix C.2): with M = B - 1, each ``z_i`` weighs its
  own image by 1/N, one other image of the batch by (N - M) / (N M) and the remaining M - 1 by 1/M (the
  weights sum to one; unbiased for q(z_i) over random batches). It needs the data set's size N, which the
  trainer passes (the training split's; :meth:`evaluate` uses the size of the split it scores): never the
  batch size.
- minibatch weighted sampling (``mws``, the paper's appendix C.1 and its code): every image weighs
  1 / (N B), so the weights sum to 1/N, not one. When the posteriors barely overlap, each marginal and the
  joint are underestimated by log B and the TC comes out about (D - 1) log B too high; when they overlap
  completely (posteriors at the prior, as early in training), by log N and (D - 1) log N.

Each is an estimate: a TC near zero can come out negative (estimator noise); it is reported as computed,
never clipped. The three parts add up, by construction, to the single-draw estimate of the KL
``mean_i [log q(z_i|x_i) - log p(z_i)]``, whose expectation is the analytic KL that ``kl`` reports.
"""
from __future__ import annotations

import contextlib
import math

import torch

from ..losses import LossTerms, kl_per_dim, recon_per_sample
from .base import Objective
from .sampling import forward_with_z

LOG_2PI = math.log(2 * math.pi)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mu, exp(logvar)) (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).square() * torch.exp(-logvar))


def log_stratified_weights(batch: int, data_size: int, device=None) -> torch.Tensor:
    """(B, B) log weights of minibatch stratified sampling: row i weighs image k of the batch in the estimate
    of q(z_i). Own image (diagonal) 1/N, the next one ((i + 1) mod B) (N - M) / (N M), the others 1/M, with
    M = B - 1. A batch of one has only its own image (weight 1)."""
    if data_size < batch:
        raise ValueError(f"the data set size ({data_size}) cannot be smaller than the batch ({batch})")
    if batch == 1:
        return torch.zeros(1, 1, device=device)
    n, m = float(data_size), float(batch - 1)
    w = torch.full((batch, batch), 1.0 / m, device=device, dtype=torch.float64)
    i = torch.arange(batch, device=device)
    w[i, (i + 1) % batch] = (n - m) / (n * m)
    w[i, i] = 1.0 / n
    return w.log().float()


def tc_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, data_size: int,
                     estimator: str = "mss") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(MI, TC, dimension-wise KL), each the mean over the batch (scalars, nats) for draws ``z`` (B, D) of
    the posteriors N(mu, exp(logvar)) of a batch from a data set of ``data_size`` images."""
    b = z.shape[0]
    log_qz_condx = log_normal(z, mu, logvar).sum(1)  # (B,)  log q(z_i|x_i)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)  # (B,)
    mat = log_normal(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (B, B, D): log q(z_i,j | x_k)
    if estimator == "mss":
        logw = log_stratified_weights(b, data_size, z.device)
        log_qz = torch.logsumexp(logw + mat.sum(2), dim=1)
        log_qz_prod = torch.logsumexp(logw[:, :, None] + mat, dim=1).sum(1)
    elif estimator == "mws":
        if data_size < b:
            raise ValueError(f"the data set size ({data_size}) cannot be smaller than the batch ({b})")
        log_nm = math.log(data_size * b)
        log_qz = torch.logsumexp(mat.sum(2), dim=1) - log_nm
        log_qz_prod = (torch.logsumexp(mat, dim=1) - log_nm).sum(1)
    else:
        raise ValueError(f"unknown TC estimator {estimator!r}")
    mi = (log_qz_condx - log_qz).mean()
    tc = (log_qz - log_qz_prod).mean()
    dim_kl = (log_qz_prod - log_pz).mean()
    return mi, tc, dim_kl


class BetaTCVAEObjective(Objective):
    def __init__(self, variant, config, settings, data_size: int, device):
        super().__init__(variant, config, settings, data_size, device)
        if not isinstance(data_size, int) or data_size < 1:
            raise ValueError(f"beta-TCVAE needs the data set's size, not {data_size!r}")

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t, s = self.config.train, self.settings
        logits, mu, logvar, z = forward_with_z(model, x, y, generator, autocast)
        rec = recon_per_sample(logits, x, t.recon).mean()
        kld = kl_per_dim(mu, logvar).mean(0)
        mi, tc, dim_kl = tc_decomposition(z, mu, logvar, self.data_size, s.tc_estimator)
        total = t.gamma * rec + s.mi_weight * mi + s.tc_weight * tc + s.dim_kl_weight * dim_kl
        return LossTerms(total=total, recon=rec, kl=kld.sum(), kl_per_dim=kld,
                         extras={"mi": mi, "tc": tc, "dim_kl": dim_kl})

    def evaluate(self, model, x, y, beta, seed=0, batch_size=1000):
        """As the base class, with q(z) the aggregate posterior of the split scored (its size is N)."""
        train_size, self.data_size = self.data_size, len(x)
        try:
            return super().evaluate(model, x, y, beta, seed, batch_size)
        finally:
            self.data_size = train_size
