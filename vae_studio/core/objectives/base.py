"""A variant's training loss: the :class:`Objective` base, which trains the Gaussian VAE's objective."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from ..losses import LossTerms, vae_loss


class Objective:
    """A variant's training loss for one run, bound to its settings.

    :meth:`loss` runs the model on a batch and returns :class:`LossTerms`, whose ``extras`` hold this
    objective's own terms (scalars, named as in ``terms``) in that order. The trainer logs
    ``[total, recon, kl, *extras]`` every step, so every term is plotted live and averaged per epoch.
    ``graph_safe``: the step (forward, loss, backward, Adam) can be captured in a CUDA graph.
    :meth:`after_step` is called after each optimiser step (a second optimiser, as FactorVAE's discriminator,
    trains there); it must draw only from ``generator``.
    ``steps_done``: optimiser steps of the run so far, for losses that follow a schedule (capacity-vae counts
    them in :meth:`after_step`); set it to evaluate a saved run as it was at its last step.
    """

    graph_safe: bool = True
    steps_done: int = 0

    def __init__(self, variant, config, settings, data_size: int, device):
        """``variant``: the declaration (its ``terms`` name the extras); ``settings``: its Settings dataclass;
        ``data_size``: images in the training split (estimators such as beta-TCVAE's need it)."""
        self.variant, self.config, self.settings = variant, config, settings
        self.data_size, self.device = data_size, torch.device(device)
        self.terms: tuple[str, ...] = tuple(variant.terms)

    def forward(self, model: nn.Module, x, y, generator, autocast=contextlib.nullcontext):
        """(logits, mu, logvar) of one reparameterised draw, in float32 (the network may run under
        ``autocast``, the loss never does)."""
        with autocast():
            logits, mu, logvar = model(x, y, generator)
        return logits.float(), mu.float(), logvar.float()

    def loss(self, model: nn.Module, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t = self.config.train
        logits, mu, logvar = self.forward(model, x, y, generator, autocast)
        return vae_loss(logits, x, mu, logvar, beta=beta, gamma=t.gamma, recon=t.recon)

    def model_parameters(self, model: nn.Module):
        """The parameters the run's optimiser trains: all the model's by default (a network trained by an
        optimiser of the objective's own, as FactorVAE's discriminator, is left out)."""
        return model.parameters()

    def after_step(self, model: nn.Module, x, y, generator) -> None:
        """Called after every optimiser step of the model (nothing by default)."""

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, beta: float,
                 seed: int = 0, batch_size: int = 1000) -> dict[str, float]:
        """The objective's total and own terms on a split (uint8 images), averaged over batches of
        ``batch_size`` (estimators that need a batch, such as total correlation, see one of that size),
        with noise from a generator seeded with ``seed``."""
        dev = next(model.parameters()).device
        gen = torch.Generator(device=dev).manual_seed(seed)
        was = model.training
        model.eval()
        sums: dict[str, float] = {}
        n = 0
        try:
            for i in range(0, len(x), batch_size):
                xb = x[i:i + batch_size].to(dev).float().div_(255.0)
                yb = y[i:i + batch_size].to(dev) if (y is not None and getattr(model, "conditional", False)) else None
                terms = self.loss(model, xb, yb, beta, gen)
                values = {"total": terms.total, **terms.extras}
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
                n += len(xb)
        finally:
            model.train(was)
        return {k: v / max(n, 1) for k, v in sums.items()}


class ObjectiveStep(nn.Module):
    """A model and its objective as one module whose forward is the whole loss of a batch: what
    DistributedDataParallel wraps under torchrun, so that every network call an objective makes (several
    decodes, a hierarchy's levels) runs inside DDP's forward and all its gradients are all-reduced."""

    def __init__(self, model: nn.Module, objective: Objective):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        return self.objective.loss(self.model, x, y, beta, generator, autocast)
