"""Every model variant VAE Studio trains, by name (the Model list and ``--model``), in the list's order."""
from __future__ import annotations

from ..errors import ConfigError
from .base import Variant
from .capacity import CapacityVAE
from .infovae import InfoVAE
from .iwae import IWAE
from .vae import ConditionalVAE, PlainVAE

VARIANTS: dict[str, type[Variant]] = {v.name: v for v in (
    PlainVAE,
    ConditionalVAE,
    InfoVAE,
    CapacityVAE,
    IWAE,
)}


def variant_names() -> tuple[str, ...]:
    return tuple(VARIANTS)


def get_variant(name: str) -> type[Variant]:
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {str(name)[:40]!r}; choose one of {', '.join(VARIANTS)}") from None
