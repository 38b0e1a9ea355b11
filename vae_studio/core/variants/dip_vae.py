"""DIP-VAE (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts from Unlabeled
Observations")."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting


@dataclass
class DIPVAESettings:
    dip_type: str = setting("i", choices=("i", "ii"), label="DIP type",
                            help="i: the covariance of the encoder means; ii: the covariance of q(z) "
                                 "(that of the means plus the mean posterior variance)")
    lambda_od: float = setting(10.0, symbol="lambda_od", minimum=0.0, maximum=1e4, label="off-diagonal weight",
                               help="weight on the squared off-diagonal covariances (pushed to 0)")
    lambda_d: float = setting(100.0, symbol="lambda_d", minimum=0.0, maximum=1e5, label="diagonal weight",
                              help="weight on the squared distance of the variances from 1 (the paper: "
                                   "10 x lambda_od for type i, lambda_od for type ii)")


class DIPVAE(Variant):
    name = "dip-vae"
    title = "DIP-VAE"
    description = ("reconstruction + beta x KL + a penalty pushing the covariance of the encoder means (i) "
                   "or of q(z) (ii) towards the identity")
    paper = "Kumar et al. 2018"
    Settings = DIPVAESettings
    uses_beta = True
    terms = ("dip_od", "dip_d")
    term_titles = {"dip_od": "off-diagonal covariance (sum of squares)",
                   "dip_d": "diagonal covariance - 1 (sum of squares)"}
    objective = "vae_studio.core.objectives.dip_vae:DIPVAEObjective"
