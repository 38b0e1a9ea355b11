"""The VQ-VAE (van den Oord et al. 2017): a grid of discrete codes from a learned codebook, updated by moving
averages with dead-code restarts; its prior is fitted afterwards over the code grids (``fit-prior``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .base import Variant, setting


@dataclass
class VQSettings:
    codebook_size: int = setting(512, symbol="K", help="number of codebook vectors", minimum=2, maximum=8192,
                                 label="codebook size")
    code_dim: int = setting(64, symbol="D", help="size of each code vector (the encoder's output channels)",
                            minimum=1, maximum=512, label="code size")
    commitment: float = setting(0.25, symbol="beta", help="weight of the commitment loss ||z_e - sg(e)||^2 that "
                                "keeps the encoder close to its codes", minimum=0.0, maximum=100.0)
    ema_decay: float = setting(0.99, symbol="gamma", help="decay of the codebook's exponential moving averages",
                               minimum=0.0, maximum=0.9999, label="EMA decay")
    restart_after: int = setting(100, help="re-seed a code from an encoder output after this many training steps "
                                 "without use (0: never)", minimum=0, maximum=1_000_000, label="dead-code restart")


class VQVAEVariant(Variant):
    name = "vq-vae"
    title = "VQ-VAE"
    description = "discrete latent grid: nearest of K codes, EMA codebook, straight-through gradient"
    paper = "van den Oord et al. 2017"
    Settings = VQSettings
    latent_kind = "codes"
    conditional = "never"
    uses_beta = False
    terms = ("commitment", "perplexity", "codes_in_use")
    term_titles = {"commitment": "Commitment ||z_e - sg(e)||^2", "perplexity": "Codebook perplexity",
                   "codes_in_use": "Codes in use (batch)"}
    model = "vae_studio.core.vq:VQVAE"
    objective = "vae_studio.core.objectives.vq_vae:VQObjective"

    @classmethod
    def kl_size(cls, m) -> int:
        return (m.image_size // 4) ** 2  # one log K per cell of the code grid

    @classmethod
    def parameter_count(cls, m) -> int:
        c, d = m.channels, cls.settings(m.settings).code_dim
        enc = (c * 32 * 16 + 32) + (32 * 64 * 16 + 64) + (64 * d + d)
        dec = (d * 64 * 9 + 64) + (64 * 32 * 16 + 32) + (32 * c * 16 + c)
        return enc + dec

    @classmethod
    def check_config(cls, config) -> None:
        m = config.model
        if m.arch != "conv":
            raise ConfigError("vq-vae quantises a convolutional grid: choose the conv architecture (--arch conv)")
