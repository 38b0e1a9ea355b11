"""The hierarchical VAE's loss: ``gamma * recon + beta * (KL of z1 + ... + KL of zL)`` per sample, the KL of
each level against its prior given the level above; the run's KL warm-up ramps beta, as for the flat VAE."""
from __future__ import annotations

import contextlib

import torch

from ..losses import LossTerms, recon_per_sample
from .base import Objective


class HierarchicalObjective(Objective):
    def __init__(self, variant, config, settings, data_size, device):
        super().__init__(variant, config, settings, data_size, device)
        self.terms = variant.level_terms(settings.levels)

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t = self.config.train
        with autocast():
            logits, levels = model(x, None, generator)
        rec = recon_per_sample(logits.float(), x, t.recon).mean()
        per_level = [lv.kl_per_dim().float().mean(0) for lv in levels]  # bottom first
        kl_per_dim = torch.cat(per_level)
        kl = kl_per_dim.sum()
        return LossTerms(total=t.gamma * rec + beta * kl, recon=rec, kl=kl, kl_per_dim=kl_per_dim,
                         extras={name: k.sum() for name, k in zip(self.terms, per_level)})
