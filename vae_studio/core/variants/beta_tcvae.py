"""beta-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs")."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting


@dataclass
class BetaTCVAESettings:
    mi_weight: float = setting(1.0, symbol="alpha", minimum=0.0, maximum=1000.0, label="MI weight",
                               help="weight on the index-code mutual information I(x; z)")
    tc_weight: float = setting(6.0, symbol="beta", minimum=0.0, maximum=1000.0, label="TC weight",
                               help="weight on the total correlation of q(z) (the disentangling pressure)")
    dim_kl_weight: float = setting(1.0, symbol="gamma", minimum=0.0, maximum=1000.0, label="dim-KL weight",
                                   help="weight on the dimension-wise KL between q(z_j) and the prior")
    tc_estimator: str = setting("mss", choices=("mss", "mws"), label="TC estimator",
                                help="how log q(z) is estimated from a batch: minibatch stratified sampling "
                                     "(mss) or minibatch weighted sampling (mws, biased by about "
                                     "(D-1) log(batch size) on the TC)")


class BetaTCVAE(Variant):
    name = "beta-tcvae"
    title = "beta-TCVAE"
    description = ("the KL split into index-code MI, total correlation and dimension-wise KL, each weighted "
                   "(alpha, beta, gamma replace the run's beta)")
    paper = "Chen et al. 2018"
    Settings = BetaTCVAESettings
    uses_beta = False
    terms = ("mi", "tc", "dim_kl")
    term_titles = {"mi": "index-code MI", "tc": "total correlation", "dim_kl": "dimension-wise KL"}
    objective = "vae_studio.core.objectives.beta_tcvae:BetaTCVAEObjective"
