"""The capacity-annealed beta-VAE (Burgess et al. 2018, "Understanding disentangling in beta-VAE")."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting


@dataclass
class CapacitySettings:
    capacity_max: float = setting(
        25.0, symbol="C_max", minimum=0.0, maximum=10000.0, label="capacity max",
        help="the capacity (target KL, nats) reached at the end of the ramp (25 on dSprites in the paper)")
    capacity_epochs: float = setting(
        10.0, minimum=0.0, maximum=100000.0, label="capacity epochs",
        help="epochs over which the capacity rises linearly from 0 to its maximum (0: at the maximum from the "
             "start); the paper's 100k steps of 64 dSprites images are about 9 epochs")
    capacity_weight: float = setting(
        1000.0, symbol="\u03b3", minimum=0.0, maximum=1e6, label="capacity weight",
        help="weight on |KL - C| (1000 on dSprites in the paper, per-sample scale)")


class CapacityVAE(Variant):
    name = "capacity-vae"
    title = "Capacity-annealed beta-VAE"
    description = ("reconstruction + gamma x |KL - C|: the KL is held at a capacity C that rises linearly, so "
                   "the code takes in information a little at a time")
    paper = "Burgess et al. 2018"
    Settings = CapacitySettings
    uses_beta = False  # the capacity weight replaces beta
    terms = ("capacity",)
    term_titles = {"capacity": "Capacity target C (against the KL)"}
    objective = "vae_studio.core.objectives.capacity:CapacityObjective"
