"""FactorVAE's network: the Gaussian VAE with its discriminator as a submodule, so that the discriminator is
saved with the run (in ``model.safetensors``, loaded with the same strict checks), copied with the model and
initialised from the run's seed. The objective (``core/objectives/factorvae.py``) trains it with an Adam of
its own; the run's Adam leaves it out (``FactorVAEObjective.model_parameters``)."""
from __future__ import annotations

import torch
import torch.nn as nn

from .config import ModelConfig
from .models import VAE
from .variants import get_variant


class Discriminator(nn.Sequential):
    """D: z -> two logits (class 0: from q(z); class 1: shuffled), an MLP with leaky ReLUs (0.2); the paper's
    is 6 x 1000. Its weights need no gradient outside the discriminator's own step. The float32 buffer
    ``steps`` counts its updates (saved with the weights: a reopened run knows whether it has trained)."""

    def __init__(self, latent_dim: int, layers: int, hidden: int):
        sizes = [latent_dim] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        super().__init__(*mods, nn.Linear(sizes[-1], 2))
        self.register_buffer("steps", torch.zeros(()))
        self.requires_grad_(False)

    def reset_with(self, generator: torch.Generator) -> None:
        """No updates yet (called by ``init_parameters`` after the layers are drawn; draws nothing)."""
        self.steps.zero_()

    @property
    def trained(self) -> bool:
        return bool(self.steps > 0)


class FactorVAEModel(VAE):
    """The Gaussian VAE (plain or conditional) and FactorVAE's discriminator on its codes (its size from the
    variant's settings ``disc_layers`` and ``disc_hidden``)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        s = get_variant(cfg.kind).settings(cfg.settings)
        self.discriminator = Discriminator(cfg.latent_dim, s.disc_layers, s.disc_hidden)
