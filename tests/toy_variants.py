"""Two model variants for tests of what is built from the declarations (the GUI's Model list and settings
form, the CLI's flags, the own-terms plot): registered with the ``toy_variants`` fixture.

- ``scaled-kl``: settings of every kind (a float with a symbol, a whole number, a choice), two own terms,
  may be conditional.
- ``free-kl``: its own weight instead of beta (``uses_beta`` False), never conditional, one own term that
  ``scaled-kl`` does not have, a setting of its own and one it shares with ``scaled-kl`` (another symbol
  and default).
"""
from dataclasses import dataclass

import pytest

from vae_studio.core.objectives.base import Objective
from vae_studio.core.variants import VARIANTS, Variant, setting


@dataclass
class ScaledSettings:
    kl_scale: float = setting(0.5, symbol="λ", help="scale of the reported KL", minimum=0.0, maximum=10.0)
    repeats: int = setting(2, symbol="R", help="how often the KL is counted", minimum=1, maximum=9)
    mode: str = setting("plain", help="how the KL is reported", choices=("plain", "squared"))


class ScaledKL(Objective):
    """The VAE's loss, reporting the KL scaled (``scaled_kl``) and counted ``repeats`` times."""

    def loss(self, model, x, y, beta, generator, autocast=None):
        terms = super().loss(model, x, y, beta, generator)
        s = self.settings
        kl = terms.kl if s.mode == "plain" else terms.kl ** 2
        terms.extras["scaled_kl"] = s.kl_scale * kl
        terms.extras["counted_kl"] = s.repeats * terms.kl
        return terms


class ScaledKLVariant(Variant):
    name = "scaled-kl"
    title = "Scaled KL (test)"
    description = "the VAE, reporting its KL scaled and counted"
    paper = "nobody 2026"
    Settings = ScaledSettings
    terms = ("scaled_kl", "counted_kl")
    term_titles = {"scaled_kl": "Scaled KL", "counted_kl": "Counted KL"}
    objective = f"{__name__}:ScaledKL"


@dataclass
class FreeSettings:
    kl_weight: float = setting(0.25, symbol="α", help="weight on the KL instead of beta", minimum=0.0,
                               maximum=5.0)
    repeats: int = setting(3, symbol="N", help="how often the KL is counted", minimum=1, maximum=9)


class FreeKL(Objective):
    def loss(self, model, x, y, beta, generator, autocast=None):
        w = self.settings.kl_weight
        terms = super().loss(model, x, y, w, generator)
        terms.extras["weighted_kl"] = w * terms.kl
        return terms


class FreeKLVariant(Variant):
    name = "free-kl"
    title = "Free KL (test)"
    description = "the VAE with its own KL weight in place of beta"
    Settings = FreeSettings
    conditional = "never"
    uses_beta = False
    terms = ("weighted_kl",)
    term_titles = {"weighted_kl": "Weighted KL"}
    objective = f"{__name__}:FreeKL"


@pytest.fixture
def toy_variants(monkeypatch):
    """Both test variants in the Model list (after the real ones) for the test's duration."""
    for v in (ScaledKLVariant, FreeKLVariant):
        monkeypatch.setitem(VARIANTS, v.name, v)
    return ScaledKLVariant, FreeKLVariant
