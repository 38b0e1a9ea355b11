"""FactorVAE's objective (Kim and Mnih 2018).

A discriminator D (an MLP with leaky ReLUs, two logits: "from q(z)" and "shuffled") learns to tell draws of
q(z) from draws of the product of its marginals, made by shuffling each latent dimension independently
across the batch (:func:`permute_dims`). Its logit difference ``log D(z) / (1 - D(z))`` estimates the total
correlation of q(z); the VAE minimises

    total = gamma_rec * recon + beta * KL + tc_weight * TC,   TC = mean_i [logit_q(z_i) - logit_shuffled(z_i)]

per sample (the gradient reaches the encoder through z; the discriminator's weights are frozen in this
loss). The discriminator trains in :meth:`FactorVAEObjective.after_step`, with its own Adam optimiser
(lr ``disc_lr``, betas 0.5 and 0.9 as in the paper), on *detached* codes: this step's z as the "q(z)"
samples and the shuffle of the *previous* step's z (another batch, as the paper's algorithm draws a second
batch for the shuffled samples, at no extra encoder pass) as the "shuffled" ones. It does not train on the
very first step, which has no previous batch. Every permutation is drawn from the run's generator; the
discriminator's initial weights from a generator seeded with the run's seed.

The own terms are the TC estimate (an estimate: it can be negative, and is reported as it is) and the
discriminator's accuracy on the batch's z and its shuffle. The discriminator is a training aid: it is not
part of the model and is not saved with the run, so the objective of a reopened run has none that has
trained, and :meth:`FactorVAEObjective.evaluate` then reports the TC, the accuracy and the total as NaN
rather than the guesses of an untrained discriminator.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..distributed import average_gradients_
from ..losses import LossTerms, kl_per_dim, recon_per_sample
from ..models import init_parameters
from .base import Objective
from .sampling import forward_with_z

DISC_BETAS = (0.5, 0.9)


def permute_dims(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each column (latent dimension) of ``z`` (B, D) shuffled across the batch by its own permutation: a
    draw of the product of the batch's marginals. The permutations come from ``generator``."""
    keys = torch.rand(z.shape, generator=generator, device=z.device)
    return z.gather(0, keys.argsort(dim=0))


def discriminator(latent_dim: int, layers: int, hidden: int) -> nn.Sequential:
    """D: z -> two logits (class 0: from q(z); class 1: shuffled). The paper's is 6 x 1000, leaky ReLU 0.2."""
    sizes = [latent_dim] + [hidden] * layers
    mods: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return nn.Sequential(*mods, nn.Linear(sizes[-1], 2))


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
        s = settings
        with torch.device("meta"):  # built without random draws, then initialised from the run's seed
            d = discriminator(config.model.latent_dim, s.disc_layers, s.disc_hidden)
        d = init_parameters(d.to_empty(device="cpu"), torch.Generator().manual_seed(config.train.seed))
        self.discriminator = d.to(self.device).requires_grad_(False)
        self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=s.disc_lr, betas=DISC_BETAS)
        self._z_now: torch.Tensor | None = None  # this step's z (detached), set by a training loss
        self._z_prev: torch.Tensor | None = None  # the previous step's
        self.disc_steps = 0  # discriminator updates so far

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t, s = self.config.train, self.settings
        logits, mu, logvar, z = forward_with_z(model, x, y, generator, autocast)
        rec = recon_per_sample(logits, x, t.recon).mean()
        kld = kl_per_dim(mu, logvar).mean(0)
        kl = kld.sum()
        b = len(z)
        out = self.discriminator(torch.cat([z, permute_dims(z.detach(), generator)]))
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
        d = self.discriminator
        d.requires_grad_(True)
        try:
            with torch.enable_grad():
                loss = discriminator_loss(d, z_now, permute_dims(z_prev, generator))
            self.disc_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients_(d)  # under torchrun: one discriminator, trained on every rank's batch
            self.disc_optimizer.step()
            self.disc_steps += 1
        finally:
            d.requires_grad_(False)

    def evaluate(self, model, x, y, beta, seed=0, batch_size=1000):
        """As the base class; NaN for the terms that need the discriminator while it has not trained."""
        out = super().evaluate(model, x, y, beta, seed, batch_size)
        if self.disc_steps == 0:
            out.update({k: float("nan") for k in ("total", *self.terms)})
        return out
