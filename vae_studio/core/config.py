"""Configuration records for a run: what data, what model, how to train.

Plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``) and validate themselves
(``validate`` raises :class:`ConfigError` with a one-line message a user can act on).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .variants import VARIANTS, get_variant

ARCHS = ("mlp", "conv")
RECON_LOSSES = ("bce", "mse")


@dataclass
class DataConfig:
    """Which data set to load.

    ``dataset`` is a registry name (``vae-studio datasets`` lists them). ``root`` is a folder (a torchvision
    root, a folder of IDX files, an image folder) or a ``.npz`` file, depending on the data set.
    """

    dataset: str = "sprites"
    root: str | None = None
    image_size: int = 32  # for image folders: resized and centre-cropped to this square size
    grayscale: bool = True  # for image folders: convert to one channel
    binarize: bool = False  # dynamic binarisation (train) / fixed binarisation (test)
    seed: int = 0  # for the 90/10 split of data sets without their own test split


@dataclass
class ModelConfig:
    """The network. Image shape and class count come from the data set."""

    kind: str = "vae"  # the variant's name (core/variants/registry.py): "vae", "cvae", "beta-tcvae", ...
    arch: str = "mlp"  # "mlp" or "conv"
    latent_dim: int = 10
    hidden: list[int] = field(default_factory=lambda: [400])  # MLP hidden sizes; conv: [fc size]
    image_size: int = 28
    channels: int = 1
    num_classes: int = 0
    conditional: bool = False  # give the class label to encoder and decoder (always so for "cvae")
    settings: dict = field(default_factory=dict)  # the variant's own settings, by name (completed by validate)

    @property
    def input_dim(self) -> int:
        return self.channels * self.image_size * self.image_size

    @property
    def is_conditional(self) -> bool:
        """Whether the model sees the class label: asked for, or always so for its variant (a cvae)."""
        variant = VARIANTS.get(self.kind) if isinstance(self.kind, str) else None
        return self.conditional or (variant is not None and variant.conditional == "always")


@dataclass
class TrainConfig:
    """How to train. The loss is ``gamma * recon + beta_t * KL`` per sample (see ``losses.py``)."""

    beta: float = 1.0
    gamma: float = 1.0
    recon: str = "bce"  # "bce" (Bernoulli, with logits) or "mse" (squared error on sigmoid means)
    kl_warmup_epochs: int = 0  # beta ramps linearly from 0 to beta over this many epochs
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    seed: int = 0
    device: str = "cpu"
    grad_clip: float = 0.0  # 0 = no clipping
    # changes of beta and the learning rate during the run, as [step, beta, lr] rows with increasing steps:
    # after `step` steps, beta (the target of the KL warm-up) and lr become these values. ``beta`` and ``lr``
    # above are the starting values; a run changed live records its changes here, so its config replays them.
    schedule: list[list[float]] = field(default_factory=list)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError("the configuration is not a JSON object")
        unknown = set(d) - {"data", "model", "train"}
        if unknown:
            raise ConfigError(f"unknown configuration section(s): {', '.join(sorted(map(str, unknown)))[:80]}")
        try:
            return cls(
                data=_build(DataConfig, d.get("data", {})),
                model=_build(ModelConfig, d.get("model", {})),
                train=_build(TrainConfig, d.get("train", {})),
            )
        except TypeError as e:  # unknown keys or wrong shapes
            raise ConfigError(f"invalid configuration: {e}") from None

    def validate(self) -> "RunConfig":
        """Check every field's type and range, and that the model fits in memory; ConfigError (one line,
        naming the field) otherwise. The CLI, the GUI and run folders all go through here."""
        for section in ("data", "model", "train"):
            _check_types(section, getattr(self, section))
        d, m, t = self.data, self.model, self.train
        variant = get_variant(m.kind)
        m.settings = variant.parse_settings(m.settings)
        if m.conditional and variant.conditional == "never":
            raise ConfigError(f"{m.kind} cannot be trained as a conditional model")
        if m.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {m.arch!r}; choose one of {', '.join(ARCHS)}")
        if t.recon not in RECON_LOSSES:
            raise ConfigError(f"unknown reconstruction loss {t.recon!r}; choose bce or mse")
        if not 1 <= m.latent_dim <= MAX_LATENT:
            raise ConfigError(f"latent size must be between 1 and {MAX_LATENT}, not {_short_repr(m.latent_dim)}")
        if not m.hidden or any(h < 1 for h in m.hidden):
            raise ConfigError("hidden sizes must be positive integers")
        if len(m.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, not {len(m.hidden)}")
        if m.channels not in (1, 3):
            raise ConfigError(f"images must have 1 or 3 channels, not {_short_repr(m.channels)}")
        if m.image_size < 4:
            raise ConfigError(f"image size {_short_repr(m.image_size)} is too small")
        if not 4 <= d.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"image size must be between 4 and {MAX_IMAGE_SIZE} pixels, not {_short_repr(d.image_size)}")
        if m.arch == "conv" and m.image_size % 4:
            raise ConfigError(f"the convolutional model needs an image size divisible by 4, not {m.image_size}")
        if m.num_classes < 0:
            raise ConfigError(f"the number of classes cannot be negative ({_short_repr(m.num_classes)})")
        if m.is_conditional and m.num_classes < 2:
            raise ConfigError("a conditional VAE needs a data set with class labels")
        for name in ("beta", "gamma"):
            v = getattr(t, name)
            if not (_finite(v) and v >= 0):
                raise ConfigError(f"{name} must be a finite number, zero or positive, not {_short_repr(v)}")
        if not (_finite(t.lr) and t.lr > 0):
            raise ConfigError(f"the learning rate must be a finite positive number, not {_short_repr(t.lr)}")
        if not (_finite(t.grad_clip) and t.grad_clip >= 0):
            raise ConfigError(f"gradient clipping must be a finite number, 0 (off) or positive, not {_short_repr(t.grad_clip)}")
        if t.batch_size < 1 or t.epochs < 1:
            raise ConfigError("batch size and epochs must be at least 1")
        if t.kl_warmup_epochs < 0:
            raise ConfigError("KL warm-up epochs cannot be negative")
        check_schedule(t.schedule)
        for where, seed in (("train.seed", t.seed), ("data.seed", d.seed)):
            check_seed(seed, where)
        variant.check_config(self)
        check_model_size(m)
        return self


MAX_LATENT = 512
MAX_HIDDEN_LAYERS = 16
MAX_IMAGE_SIZE = 4096
MAX_SEED = 2**63  # seeds are 0 <= seed < 2**63: every generator (torch, NumPy) takes them as they are
MAX_PARAMETERS = 1 << 30  # 4 GiB of float32 weights; training holds about four copies (weights, grads, Adam)
TRAIN_BYTES_PER_PARAMETER = 16


MAX_SCHEDULE = 100_000  # changes in one run's schedule


def check_schedule(schedule: list) -> list:
    """A schedule of [step, beta, lr] rows: whole steps from 0, strictly increasing; beta finite and not
    negative; lr finite and positive. ConfigError naming the row otherwise."""
    if len(schedule) > MAX_SCHEDULE:
        raise ConfigError(f"train.schedule has {len(schedule)} changes; at most {MAX_SCHEDULE:,} are supported")
    last = -1
    for i, row in enumerate(schedule):
        where = f"train.schedule[{i}]"
        if not (isinstance(row, list) and len(row) == 3):
            raise ConfigError(f"{where} must be a row of 3 numbers [step, beta, lr], not {_short_repr(row)}")
        step, beta, lr = row
        if not (_finite(step) and float(step).is_integer() and step >= 0):
            raise ConfigError(f"{where}: the step must be a whole number, 0 or more, not {_short_repr(step)}")
        if step <= last:
            raise ConfigError(f"{where}: steps must increase, but step {int(step)} follows step {last}")
        if not (_finite(beta) and beta >= 0):
            raise ConfigError(f"{where}: beta must be a finite number, zero or positive, not {_short_repr(beta)}")
        if not (_finite(lr) and lr > 0):
            raise ConfigError(f"{where}: the learning rate must be a finite positive number, not {_short_repr(lr)}")
        last = int(step)
    return schedule


def check_seed(seed: int, where: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise ConfigError(f"{where} must be a whole number from 0 to 2^63-1, not {_short_repr(seed)}")
    return seed


def parameter_count(m: ModelConfig) -> int:
    """How many parameters ``build_model(m)`` would have, computed without building it (exact; tested)."""
    return get_variant(m.kind).parameter_count(m)


def check_model_size(m: ModelConfig) -> int:
    """The parameter count; ConfigError saying how big the model would be when it cannot fit."""
    from .safe_io import big_number, human_bytes, physical_memory

    n = parameter_count(m)
    need = n * TRAIN_BYTES_PER_PARAMETER
    ram = physical_memory()
    if n > MAX_PARAMETERS or (ram is not None and need > ram):
        where = f"; this machine has {human_bytes(ram)}" if ram else ""
        raise ConfigError(f"the model would have {big_number(n)} parameters ({human_bytes(4 * n)} of weights, about "
                          f"{human_bytes(need)} to train{where}); at most {MAX_PARAMETERS:,} parameters are "
                          "supported: choose smaller hidden sizes, latent size or images")
    return n


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def _short_repr(v) -> str:
    try:
        text = repr(v)
    except (ValueError, RecursionError):  # an integer of thousands of digits, a deeply nested list
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


_TYPES = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
          "str | None": "text or null", "list[int]": "a list of whole numbers",
          "list[list[float]]": "a list of rows of numbers", "dict": "an object of named values"}


def _check_types(section: str, obj) -> None:
    """Every field of a config record has the type its annotation names (ints are not bools)."""
    for f in dataclasses.fields(obj):
        v, want = getattr(obj, f.name), str(f.type)
        ok = {
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str),
            "str | None": lambda v: v is None or isinstance(v, str),
            "list[int]": lambda v: isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool)
                                                              for i in v),
            "dict": lambda v: isinstance(v, dict) and all(
                isinstance(k, str) and isinstance(x, (int, float, str)) for k, x in v.items()),
            "list[list[float]]": lambda v: isinstance(v, list) and all(
                isinstance(r, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
                for r in v),
        }[want](v)
        if not ok:
            shown = _short_repr(v)
            raise ConfigError(f"{section}.{f.name} must be {_TYPES[want]}, not {shown} ({type(v).__name__})")


def _build(kind, d):
    if not isinstance(d, dict):
        raise TypeError(f"{kind.__name__} must be an object")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(d) - names
    if unknown:
        raise TypeError(f"unknown {kind.__name__} field(s): {', '.join(sorted(unknown))}")
    return kind(**d)
