"""FactorVAE (Kim and Mnih 2018, "Disentangling by Factorising")."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting, vae_parameter_count


@dataclass
class FactorVAESettings:
    tc_weight: float = setting(6.4, symbol="gamma", minimum=0.0, maximum=1000.0, label="TC weight",
                               help="weight on the discriminator's estimate of the total correlation")
    disc_layers: int = setting(6, minimum=1, maximum=10, label="discriminator layers",
                               help="hidden layers of the discriminator (leaky ReLU MLP)")
    disc_hidden: int = setting(1000, minimum=8, maximum=4096, label="discriminator width",
                               help="units in each hidden layer of the discriminator")
    disc_lr: float = setting(1e-4, minimum=1e-7, maximum=1.0, label="discriminator learning rate",
                             help="the discriminator's Adam learning rate (betas 0.5, 0.9)")


class FactorVAE(Variant):
    name = "factorvae"
    title = "FactorVAE"
    description = ("reconstruction + beta x KL + gamma x TC, the total correlation estimated by a discriminator "
                   "that tells q(z) from its dimension-wise shuffle")
    paper = "Kim and Mnih 2018"
    Settings = FactorVAESettings
    uses_beta = True
    terms = ("tc", "disc_acc")
    term_titles = {"tc": "TC (discriminator estimate)", "disc_acc": "discriminator accuracy"}
    model = "vae_studio.core.factorvae_model:FactorVAEModel"  # the VAE with the discriminator (saved with it)
    objective = "vae_studio.core.objectives.factorvae:FactorVAEObjective"

    @classmethod
    def parameter_count(cls, m) -> int:
        """The VAE's parameters and the discriminator's (an MLP latent_dim -> disc_hidden x disc_layers -> 2)."""
        s = cls.settings(m.settings)
        sizes = [m.latent_dim] + [s.disc_hidden] * s.disc_layers + [2]
        return vae_parameter_count(m) + sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
