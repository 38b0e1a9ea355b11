"""Model variants: one module each, one line each in ``registry.py``."""
from .base import SettingSpec, Variant, setting
from .registry import VARIANTS, get_variant, variant_names

__all__ = ["SettingSpec", "Variant", "VARIANTS", "get_variant", "setting", "variant_names"]
