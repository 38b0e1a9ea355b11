"""The hierarchical VAE with Ladder-VAE top-down inference (Sonderby et al. 2016): Gaussian latents at two or
more levels, coarse (top) to fine (bottom), each level's prior conditioned on the level above."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Variant, setting

MAX_LEVELS = 5


@dataclass
class HVAESettings:
    levels: int = setting(2, symbol="L", help="levels of latent variables (z1 at the bottom feeds the decoder, "
                          "zL at the top has the N(0, I) prior)", minimum=2, maximum=MAX_LEVELS)
    top_dim: int = setting(0, help="size of the top level; 0: the run's latent size. The bottom level has the "
                           "latent size, the levels between shrink geometrically from it to this",
                           minimum=0, maximum=512, label="top level size")


def level_dims(m, settings) -> tuple[int, ...]:
    """The size of each level, bottom first, for ModelConfig ``m``: the latent size at the bottom, ``top_dim``
    (or the latent size) at the top, geometric in between."""
    bottom, top, n = m.latent_dim, settings.top_dim or m.latent_dim, settings.levels
    return tuple(max(1, round(bottom * (top / bottom) ** (i / (n - 1)))) for i in range(n))


class HierarchicalVAEVariant(Variant):
    name = "hvae"
    title = "Hierarchical VAE (Ladder)"
    description = "Gaussian latents at several levels, top-down inference; reports the KL of each level"
    paper = "Sonderby et al. 2016"
    Settings = HVAESettings
    latent_kind = "levels"
    conditional = "never"
    # its top level collapses without a warm-up, the known failure (Sonderby et al.): on the sprites its KL
    # stayed at 0.1 nats and -ELBO was worse than the flat VAE's; 2 epochs of warm-up fix it (README)
    kl_warmup_epochs = 2
    terms = ("kl_z1", "kl_z2")  # for the default 2 levels; the objective logs kl_z1 .. kl_zL
    term_titles = {"kl_z1": "KL of z1 (bottom)", "kl_z2": "KL of z2"}
    model = "vae_studio.core.hierarchical:HierarchicalVAE"
    objective = "vae_studio.core.objectives.hvae:HierarchicalObjective"

    @classmethod
    def level_terms(cls, levels: int) -> tuple[str, ...]:
        return tuple(f"kl_z{i + 1}" for i in range(levels))

    @classmethod
    def kl_size(cls, m) -> int:
        return sum(level_dims(m, cls.settings(m.settings)))

    @classmethod
    def parameter_count(cls, m) -> int:
        dims = level_dims(m, cls.settings(m.settings))

        def linear(a, b):
            return a * b + b

        s2 = (m.image_size // 4) ** 2
        if m.arch == "mlp":
            h = m.hidden[-1]
            enc = sum(linear(a, b) for a, b in zip([m.input_dim, *m.hidden], m.hidden))
            dec_sizes = [dims[0], *reversed(m.hidden)]
            dec = sum(linear(a, b) for a, b in zip(dec_sizes, dec_sizes[1:])) + linear(m.hidden[0], m.input_dim)
        else:
            h, c = m.hidden[0], m.channels
            enc = (c * 32 * 16 + 32) + (32 * 64 * 16 + 64) + linear(64 * s2, h)
            dec = linear(dims[0], h) + linear(h, 64 * s2) + (64 * 32 * 16 + 32) + (32 * c * 16 + c)
        up = (len(dims) - 1) * linear(h, h)
        q = sum(linear(h, 2 * d) for d in dims)
        p = sum(linear(above, h) + linear(h, 2 * d) for d, above in zip(dims, dims[1:]))
        return enc + up + q + p + dec
