"""The VQ-VAE's loss: ``gamma * recon + commitment * ||z_e - sg(e)||^2`` per sample (the codebook itself moves
by moving averages, in the quantiser's training-mode forward pass, not by this loss)."""
from __future__ import annotations

import contextlib
import math

import torch

from ..losses import LossTerms, recon_per_sample
from .base import Objective


class VQObjective(Objective):
    # the forward pass updates the codebook buffers (moving averages, restarts): train eagerly, never replayed
    graph_safe = False

    def loss(self, model, x, y, beta, generator, autocast=contextlib.nullcontext) -> LossTerms:
        t = self.config.train
        with autocast():
            out = model(x, None, generator)
        q = out.q
        rec = recon_per_sample(out.logits.float(), x, t.recon).mean()
        # a one-hot posterior against a uniform prior over K codes: KL = log K per cell, constant (not trained)
        cells = q.codes.shape[1] * q.codes.shape[2]
        kl_per_dim = torch.full((cells,), math.log(model.num_codes), device=rec.device)
        total = t.gamma * rec + self.settings.commitment * q.commitment
        return LossTerms(total=total, recon=rec, kl=kl_per_dim.sum(), kl_per_dim=kl_per_dim,
                         extras={"commitment": q.commitment, "perplexity": q.perplexity,
                                 "codes_in_use": q.codes_in_use})
