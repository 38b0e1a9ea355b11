"""The VAE (Kingma and Welling 2014), beta-VAE (Higgins et al. 2017: the same objective with beta != 1)
and the conditional VAE (Sohn et al. 2015)."""
from __future__ import annotations

from .base import Variant


class PlainVAE(Variant):
    name = "vae"
    title = "VAE / beta-VAE"
    description = "reconstruction + beta x KL to N(0, I); beta 1 is the ELBO, beta > 1 is beta-VAE"
    paper = "Kingma and Welling 2014; Higgins et al. 2017"


class ConditionalVAE(Variant):
    name = "cvae"
    title = "Conditional VAE"
    description = "the VAE with the class label given to encoder and decoder (needs a labelled data set)"
    paper = "Sohn et al. 2015"
    conditional = "always"
