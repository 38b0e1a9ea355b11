"""How a run's model variant is named in the runs list, the metrics panel and the status bar: the title its
declaration gives (``core/variants``), marked when a variant that may be conditional was trained so."""
from __future__ import annotations

from ...core.variants import VARIANTS


def model_title(m) -> str:
    """E.g. "VAE / beta-VAE", "Conditional VAE", "β-TCVAE, conditional" for ModelConfig ``m``."""
    variant = VARIANTS.get(m.kind) if isinstance(m.kind, str) else None
    if variant is None:
        return str(m.kind)
    if m.conditional and variant.conditional == "optional":
        return f"{variant.title}, conditional"
    return variant.title


def uses_beta(m) -> bool:
    variant = VARIANTS.get(m.kind) if isinstance(m.kind, str) else None
    return variant is None or variant.uses_beta


def beta_text(config) -> str:
    """A run's beta as a table shows it: "4", or "—" for a variant whose loss beta does not weight."""
    return f"{config.train.beta:g}" if uses_beta(config.model) else "\u2014"
