"""InfoVAE as the MMD-VAE (Zhao et al. 2017): the ELBO plus a maximum mean discrepancy between q(z) and the
prior."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .base import Variant, setting

KERNELS = ("imq", "rbf")


@dataclass
class InfoVAESettings:
    mmd_weight: float = setting(
        1000.0, symbol="\u03bb", minimum=0.0, maximum=1e6, label="MMD weight",
        help="weight on the MMD between the batch's codes and as many prior draws (per-sample scale: the MMD "
             "of a batch is small, so the weight is large)")
    kernel: str = setting(
        "imq", choices=KERNELS, label="kernel",
        help="imq: C / (C + |a-b|^2) with C = 2 x latent size (WAE's scale); rbf: exp(-|a-b|^2 / latent "
             "size^2) (Zhao et al.'s MMD-VAE code)")


class InfoVAE(Variant):
    name = "infovae"
    title = "InfoVAE (MMD-VAE)"
    description = ("reconstruction + beta x KL + lambda x MMD(q(z), N(0, I)): matches the codes of a batch to "
                   "the prior as a whole; beta 0 is the pure MMD-VAE")
    paper = "Zhao, Song and Ermon 2017"
    Settings = InfoVAESettings
    uses_beta = True  # the run's beta is the KL weight (1 - alpha in the paper): no separate flag
    terms = ("mmd",)
    term_titles = {"mmd": "MMD(q(z), p(z))"}
    objective = "vae_studio.core.objectives.infovae:InfoVAEObjective"

    @classmethod
    def check_config(cls, config) -> None:
        if config.train.batch_size < 2:
            raise ConfigError("infovae needs a batch size of at least 2 (the MMD compares codes of one batch)")
