"""The capacity-annealed objective of Burgess et al. (2018), per sample:

``total = gamma * recon + w * |KL - C|``

with ``KL`` the batch's mean KL and ``C`` the capacity target, raised linearly from 0 nats at the first step
to ``capacity_max`` after ``capacity_epochs`` epochs and held there. The run's beta plays no part.

``C`` follows the optimiser steps this objective has seen (:attr:`steps_done`, counted in :meth:`after_step`):
a paused run goes on where it stopped, and a run retrained from its config starts again at 0 and gives the
same C at every step. Counting on the host keeps the step out of a CUDA graph (``graph_safe`` False: a
captured step would bake in one C, and the capture's warm-up steps would be counted).
"""
from __future__ import annotations

import contextlib

import torch

from ..losses import LossTerms, vae_loss
from .base import Objective


def capacity_at(steps_done: int, capacity_max: float, ramp_steps: float) -> float:
    """The target C (nats) for the step after ``steps_done`` steps: linear from 0 to ``capacity_max`` over
    ``ramp_steps`` steps, then constant (at once when ``ramp_steps`` is 0)."""
    if ramp_steps <= 0:
        return float(capacity_max)
    return float(capacity_max) * min(1.0, steps_done / ramp_steps)


class CapacityObjective(Objective):
    graph_safe = False

    def __init__(self, variant, config, settings, data_size, device):
        super().__init__(variant, config, settings, data_size, device)
        batch = max(1, min(config.train.batch_size, data_size))
        self.steps_per_epoch = -(-max(data_size, 1) // batch)

    @property
    def capacity(self) -> float:
        """C for the next step."""
        s = self.settings
        return capacity_at(self.steps_done, s.capacity_max, s.capacity_epochs * self.steps_per_epoch)

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t = self.config.train
        logits, mu, logvar = self.forward(model, x, y, generator, autocast)
        terms = vae_loss(logits, x, mu, logvar, beta=0.0, gamma=t.gamma, recon=t.recon)
        c = torch.full((), self.capacity, device=terms.kl.device)
        terms.total = t.gamma * terms.recon + self.settings.capacity_weight * (terms.kl - c).abs()
        terms.extras["capacity"] = c
        return terms

    def after_step(self, model, x, y, generator) -> None:
        self.steps_done += 1
