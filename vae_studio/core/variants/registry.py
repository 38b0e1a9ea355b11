"""Every model variant VAE Studio trains, by name (the Model list and ``--model``), in the list's order."""
from __future__ import annotations

from ..errors import ConfigError
from .base import Variant
from .beta_tcvae import BetaTCVAE
from .capacity import CapacityVAE
from .dip_vae import DIPVAE
from .factorvae import FactorVAE
from .hvae import HierarchicalVAEVariant
from .infovae import InfoVAE
from .iwae import IWAE
from .vae import ConditionalVAE, PlainVAE
from .vq_vae import VQVAEVariant

VARIANTS: dict[str, type[Variant]] = {v.name: v for v in (
    PlainVAE,
    ConditionalVAE,
    BetaTCVAE,
    FactorVAE,
    DIPVAE,
    InfoVAE,
    CapacityVAE,
    IWAE,
    HierarchicalVAEVariant,
    VQVAEVariant,
)}


def variant_names() -> tuple[str, ...]:
    return tuple(VARIANTS)


def get_variant(name: str) -> type[Variant]:
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {str(name)[:40]!r}; choose one of {', '.join(VARIANTS)}") from None
