"""The model variants' own settings as command-line flags, generated from their declarations.

One flag per distinct setting name across :data:`~vae_studio.core.variants.VARIANTS` (``--tc-weight`` serves
beta-tcvae and factorvae alike); every flag defaults to None, so only the settings given on the command line
reach ``ModelConfig.settings`` (the variant fills in the rest). A flag given for a variant without that
setting is a one-line error. Adding a variant adds its flags with no edit here.
"""
from __future__ import annotations

import argparse


def specs_by_name() -> dict[str, list]:
    """setting name -> [(variant name, SettingSpec), ...] over every variant, in the Model list's order."""
    from ..core.variants import VARIANTS

    found: dict[str, list] = {}
    for variant in VARIANTS.values():
        for spec in variant.settings_specs():
            found.setdefault(spec.name, []).append((variant.name, spec))
    return found


def _help(uses: list) -> str:
    first = uses[0][1]
    symbols = {spec.symbol for _v, spec in uses}
    if len(symbols) > 1:  # e.g. --tc-weight: beta in beta-TCVAE's paper, gamma in FactorVAE's
        symbol = " (" + ", ".join(f"{spec.symbol or 'unnamed'} for {v}" for v, spec in uses) + " in the papers)"
    else:
        symbol = f" ({first.symbol} in the paper)" if first.symbol else ""
    defaults = {spec.default for _v, spec in uses}
    if len(defaults) == 1:
        default = f"default {first.default}"
    else:
        default = "default " + ", ".join(f"{v}: {spec.default}" for v, spec in uses)
    return f"{first.help}{symbol}; used by {', '.join(v for v, _s in uses)}; {default}"


def add_variant_flags(p: argparse.ArgumentParser) -> None:
    """``--conditional`` and one flag per variant setting (default None: the variant's own default)."""
    g = p.add_argument_group("model variant settings (each applies only to the variants named in its help)")
    g.add_argument("--conditional", action="store_true",
                   help="give the class label to encoder and decoder (variants that allow it; needs labels)")
    taken = {opt for action in p._actions for opt in action.option_strings}
    for name, uses in specs_by_name().items():
        spec = uses[0][1]
        if spec.flag in taken:
            raise RuntimeError(f"the setting {name!r} of {uses[0][0]} clashes with the flag {spec.flag}")
        kwargs = {"type": spec.type, "default": None, "dest": name, "help": _help(uses)}
        choices = sorted({c for _v, s in uses for c in s.choices})
        if choices:
            kwargs["choices"] = choices
        else:
            kwargs["metavar"] = "N" if spec.type is int else "X" if spec.type is float else "TEXT"
        g.add_argument(spec.flag, **kwargs)


def variant_settings(a: argparse.Namespace, model: str) -> dict:
    """The variant settings given on the command line, by name; ConfigError (one line) for a flag that does
    not apply to ``model``."""
    from ..core.errors import ConfigError
    from ..core.variants import get_variant

    own = {s.name: s for s in get_variant(model).settings_specs()}
    settings = {}
    for name, uses in specs_by_name().items():
        value = getattr(a, name, None)
        if value is None:
            continue
        if name not in own:
            flags = ", ".join(s.flag for s in own.values())
            theirs = f"its settings: {flags}" if flags else "it has no settings of its own"
            raise ConfigError(f"{uses[0][1].flag} does not apply to {model} ({theirs})")
        settings[name] = value
    return settings
