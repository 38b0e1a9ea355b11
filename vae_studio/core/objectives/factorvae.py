"""FactorVAE's objective (Kim and Mnih 2018).

A discriminator D (an MLP with leaky ReLUs, two logits: "from q(z)" and "shuffled") learns to tell draws of
q(z) from draws of the product of its marginals, made by shuffling each latent dimension independently
across the batch (:func:`permute_dims`). Its logit difference ``log D(z) / (1 - D(z))`` estimates the total
correlation of q(z); the VAE minimises

    total = gamma_rec * recon + beta * KL + tc_weight * TC,   TC = mean_i [logit_q(z_i) - logit_shuffled(z_i)]

per sample (the gradient reaches the encoder through z; the discriminator's weights are frozen in this
loss). The discriminator trains in :meth:`FactorVAEObjective.after_step`, with its own Adam optimiser
(lr ``disc_lr``, betas 0.5 and 0.9 as in the paper, made on its first step), on *detached* codes: this step's
z as the "q(z)" samples and the shuffle of the *previous* step's z (another batch, as the paper's algorithm
draws a second batch for the shuffled samples, at no extra encoder pass) as the "shuffled" ones. It does not
train on the very first step, which has no previous batch. Every permutation is drawn from the run's
generator.

The discriminator is part of the run's network (``model.discriminator``, see ``core/factorvae_model.py``):
initialised from the run's seed with the VAE, saved and reopened with it, with the count of its updates. The
run's own Adam leaves it out (:meth:`FactorVAEObjective.model_parameters`).

The own terms are the TC estimate (an estimate: it can be negative, and is reported as it is) and the
discriminator's accuracy on the batch's z and its shuffle. While the discriminator has never trained,
:meth:`FactorVAEObjective.evaluate` reports the TC, the accuracy and the total as NaN rather than the
guesses of an untrained discriminator.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..distributed import average_gradients_
from ..losses import LossTerms, kl_per_dim, recon_per_sample
from .base import Objective
from .sampling import forward_with_z

DISC_BETAS = (0.5, 0.9)


def permute_dims(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each column (latent dimension) of ``z`` (B, D) shuffled across the batch by its own permutation: a
    draw of the product of the batch's marginals. The permutations come from ``generator``."""
    keys = torch.rand(z.shape, generator=generator, device=z.device)
    return z.gather(0, keys.argsort(dim=0))


def discriminator_loss(d: nn.Module, z_q: torch.Tensor, z_shuffled: torch.Tensor) -> torch.Tensor:
    """The discriminator's cross-entropy: half on telling ``z_q`` as class 0, half on ``z_shuffled`` as 1."""
    lq, ls = d(z_q), d(z_shuffled)
    q_class = torch.zeros(len(lq), dtype=torch.long, device=lq.device)
    shuffled_class = torch.ones(len(ls), dtype=torch.long, device=ls.device)
    return 0.5 * (F.cross_entropy(lq, q_class) + F.cross_entropy(ls, shuffled_class))


class FactorVAEObjective(Objective):
    graph_safe = False  # keeps the previous batch's z between steps and trains the discriminator after each

    def __init__(self, variant, config, settings, data_size: int, device):
        super().__init__(variant, config, settings, data_size, device)
        self.disc_optimizer: torch.optim.Adam | None = None  # made on the discriminator's first step
        self._z_now: torch.Tensor | None = None  # this step's z (detached), set by a training loss
        self._z_prev: torch.Tensor | None = None  # the previous step's

    def model_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        """The VAE's parameters: the discriminator has its own Adam."""
        own = {id(p) for p in model.discriminator.parameters()}
        return [p for p in model.parameters() if id(p) not in own]

    def _optimizer(self, d: nn.Module) -> torch.optim.Adam:
        """The discriminator's Adam (lr ``disc_lr``, betas 0.5 and 0.9), made for ``d`` on first use."""
        opt = self.disc_optimizer
        if opt is None or opt.param_groups[0]["params"][0] is not next(d.parameters()):
            opt = torch.optim.Adam(d.parameters(), lr=self.settings.disc_lr, betas=DISC_BETAS)
            self.disc_optimizer = opt
        return opt

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t, s = self.config.train, self.settings
        logits, mu, logvar, z = forward_with_z(model, x, y, generator, autocast)
        rec = recon_per_sample(logits, x, t.recon).mean()
        kld = kl_per_dim(mu, logvar).mean(0)
        kl = kld.sum()
        b = len(z)
        out = model.discriminator(torch.cat([z, permute_dims(z.detach(), generator)]))
        tc = (out[:b, 0] - out[:b, 1]).mean()
        with torch.no_grad():
            said = out.argmax(1)
            acc = torch.cat([said[:b] == 0, said[b:] == 1]).float().mean()
        if model.training:
            self._z_now = z.detach()
        total = t.gamma * rec + beta * kl + s.tc_weight * tc
        return LossTerms(total=total, recon=rec, kl=kl, kl_per_dim=kld, extras={"tc": tc, "disc_acc": acc})

    def after_step(self, model, x, y, generator) -> None:
        """One discriminator step: this step's z against the shuffle of the previous step's."""
        z_now, z_prev = self._z_now, self._z_prev
        self._z_prev, self._z_now = z_now, None
        if z_now is None or z_prev is None:
            return
        d = model.discriminator
        opt = self._optimizer(d)
        d.requires_grad_(True)
        try:
            with torch.enable_grad():
                loss = discriminator_loss(d, z_now, permute_dims(z_prev, generator))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients_(d)  # under torchrun: one discriminator, trained on every rank's batch
            opt.step()
            opt.zero_grad(set_to_none=True)  # no stale gradients in the model's (gradient clipping sees them)
            d.steps.add_(1)
        finally:
            d.requires_grad_(False)

    def evaluate(self, model, x, y, beta, seed=0, batch_size=1000):
        """As the base class; NaN for the terms that need the discriminator while it has not trained."""
        out = super().evaluate(model, x, y, beta, seed, batch_size)
        if not model.discriminator.trained:
            out.update({k: float("nan") for k in ("total", *self.terms)})
        return out
