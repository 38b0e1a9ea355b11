"""What every model variant declares: the Model list's entries, without torch.

A :class:`Variant` is one entry of the Model list (``vae-studio train --model NAME``): its name, a one-line
description, the paper, its own settings (a dataclass whose fields carry a symbol, a help text, a range or
choices: the GUI's form and the CLI's flags are built from them), the loss terms it reports beyond total,
reconstruction and KL, its latent kind, and where its model and objective live. Panels, the CLI, the trainer
and the metrics ask the variant; adding one is its modules and a line in ``registry.py``.

Declarations import no torch: the training panel builds its Model list and settings form before torch has
been imported (start-up is staged, see ``ui/main_window.py``). The model class and the
:class:`~vae_studio.core.objectives.base.Objective` are named by import path ("module:Class") and imported
when a run is built.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError

LATENT_KINDS = ("gaussian", "codes", "levels")  # one Gaussian vector; a grid of discrete codes; Gaussian levels


def setting(default, *, symbol: str = "", help: str, minimum: float | None = None,
            maximum: float | None = None, choices: tuple[str, ...] = (), label: str = "") -> Any:
    """A field of a variant's settings dataclass, with what a form and a flag need to show it: the paper's
    ``symbol``, a one-line ``help``, the allowed range (numbers) or ``choices`` (text), a short ``label``
    (default: from the field's name)."""
    return dataclasses.field(default=default, metadata={
        "symbol": symbol, "help": help, "minimum": minimum, "maximum": maximum, "choices": tuple(choices),
        "label": label})


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the GUI and the CLI see it."""

    name: str  # field name, e.g. "tc_weight" (flag --tc-weight)
    type: type  # float, int or str
    default: Any
    symbol: str
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]
    label: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """The tooltip: help, the paper's symbol and the default."""
        sym = f" ({self.symbol} in the paper)" if self.symbol else ""
        return f"{self.help}{sym}; default {self.default}"

    def check(self, value, where: str):
        """``value`` converted to this setting's type; ConfigError naming ``where`` when it does not fit."""
        if self.type is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ConfigError(f"{where} must be one of {', '.join(self.choices)}, not {value!r}"[:200])
            return value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and self.type is int:
            ok = float(value).is_integer()
        if not ok or not math.isfinite(value):
            kind = "a whole number" if self.type is int else "a finite number"
            raise ConfigError(f"{where} must be {kind}, not {value!r}"[:200])
        value = self.type(value)
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{where} must be at least {self.minimum:g}, not {value:g}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{where} must be at most {self.maximum:g}, not {value:g}")
        return value


@dataclass
class NoSettings:
    """A variant without settings of its own."""


def _resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Variant:
    """One model of the Model list. Subclasses set the class attributes and, where they differ from the
    Gaussian VAE, ``model`` and ``objective``."""

    name: ClassVar[str]
    title: ClassVar[str]  # shown in the Model list
    description: ClassVar[str]  # one line
    paper: ClassVar[str] = ""
    Settings: ClassVar[type] = NoSettings
    latent_kind: ClassVar[str] = "gaussian"
    conditional: ClassVar[str] = "optional"  # "never", "optional" or "always" (a cvae)
    uses_beta: ClassVar[bool] = True  # whether the run's beta weights this variant's KL term
    kl_warmup_epochs: ClassVar[int] = 0  # the KL warm-up a new run of it starts with (GUI and CLI default)
    terms: ClassVar[tuple[str, ...]] = ()  # its own loss terms, logged after total, recon and KL
    term_titles: ClassVar[dict[str, str]] = {}  # own loss terms -> plot titles
    model: ClassVar[str] = "vae_studio.core.models:VAE"  # "module:Class" of its network
    objective: ClassVar[str] = "vae_studio.core.objectives.base:Objective"  # "module:Class" of its loss

    @classmethod
    def model_class(cls):
        return _resolve(cls.model)

    @classmethod
    def objective_class(cls):
        return _resolve(cls.objective)

    @classmethod
    def settings_specs(cls) -> list[SettingSpec]:
        specs = []
        for f in dataclasses.fields(cls.Settings):
            md = f.metadata
            typ = {"float": float, "int": int, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            specs.append(SettingSpec(f.name, typ, f.default, md.get("symbol", ""), md.get("help", ""),
                                     md.get("minimum"), md.get("maximum"), md.get("choices", ()),
                                     md.get("label") or f.name.replace("_", " ")))
        return specs

    @classmethod
    def parse_settings(cls, values: dict) -> dict:
        """The settings in ``values`` checked and completed with defaults (a plain dict, as a run folder keeps
        it); ConfigError for an unknown name or a bad value."""
        if not isinstance(values, dict):
            raise ConfigError("model.settings must be an object of named settings")
        specs = {s.name: s for s in cls.settings_specs()}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            known = ", ".join(specs) or "none"
            raise ConfigError(f"{cls.name} has no setting {str(unknown[0])[:40]!r} (its settings: {known})")
        return {name: spec.check(values.get(name, spec.default), f"model.settings.{name}")
                for name, spec in specs.items()}

    @classmethod
    def settings(cls, values: dict):
        """The variant's Settings dataclass for a config's (checked) settings dict."""
        return cls.Settings(**cls.parse_settings(values))

    @classmethod
    def make_objective(cls, config, data_size: int, device):
        """The objective that trains a run of this variant (imports torch)."""
        return cls.objective_class()(cls, config, cls.settings(config.model.settings), data_size, device)

    @classmethod
    def parameter_count(cls, m) -> int:
        """How many parameters the model for ModelConfig ``m`` has, computed without building it (exact;
        tested)."""
        return vae_parameter_count(m)

    @classmethod
    def kl_size(cls, m) -> int:
        """How many entries a run's ``kl_per_dim`` has (the latent size for one Gaussian vector)."""
        return m.latent_dim

    @classmethod
    def check_config(cls, config) -> None:
        """Checks beyond each setting's own range (combinations); ConfigError."""


def vae_parameter_count(m) -> int:
    """The parameter count of :class:`~vae_studio.core.models.VAE` for ModelConfig ``m``."""
    k = m.num_classes if m.is_conditional else 0
    c, size, lat = m.channels, m.image_size, m.latent_dim

    def linear(a, b):
        return a * b + b

    stats = linear(m.hidden[-1] if m.arch == "mlp" else m.hidden[0], 2 * lat) + k * 2 * lat
    if m.arch == "mlp":
        enc = sum(linear(a, b) for a, b in zip([m.input_dim, *m.hidden], m.hidden))
        dec_sizes = [lat + k, *reversed(m.hidden)]
        dec = sum(linear(a, b) for a, b in zip(dec_sizes, dec_sizes[1:])) + linear(m.hidden[0], m.input_dim)
        return enc + stats + dec
    s2, h = (size // 4) ** 2, m.hidden[0]
    convs = (c * 32 * 16 + 32) + (32 * 64 * 16 + 64)  # Conv2d(c, 32, 4) and Conv2d(32, 64, 4)
    deconvs = (64 * 32 * 16 + 32) + (32 * c * 16 + c)  # ConvTranspose2d(64, 32, 4) and (32, c, 4)
    return convs + linear(64 * s2, h) + stats + linear(lat + k, h) + linear(h, 64 * s2) + deconvs
