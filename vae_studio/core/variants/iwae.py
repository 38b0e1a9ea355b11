"""The importance-weighted autoencoder (Burda, Grosse and Salakhutdinov 2016)."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting


@dataclass
class IWAESettings:
    iw_samples: int = setting(
        5, symbol="K", minimum=1, maximum=500, label="importance samples",
        help="codes drawn per image; the loss is the K-sample importance-weighted bound (K = 1: the ELBO). "
             "Each step decodes K x batch images")


class IWAE(Variant):
    name = "iwae"
    title = "IWAE"
    description = ("trains on the K-sample importance-weighted bound on log p(x), tighter than the ELBO; "
                   "the same network as the VAE")
    paper = "Burda, Grosse and Salakhutdinov 2016"
    Settings = IWAESettings
    uses_beta = True  # beta weights log q(z|x) - log p(z) in each log-weight (beta = gamma = 1: the bound)
    terms = ("neg_iwae_bound",)
    term_titles = {"neg_iwae_bound": "\u2212IWAE bound L_K (nats)"}
    objective = "vae_studio.core.objectives.iwae:IWAEObjective"
