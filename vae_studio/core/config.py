"""Configuration records for a run: what data, what model, how to train.

Plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``) and validate themselves
(``validate`` raises :class:`ConfigError` with a one-line message a user can act on).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MODEL_KINDS = ("vae", "cvae")
ARCHS = ("mlp", "conv")
RECON_LOSSES = ("bce", "mse")


class ConfigError(ValueError):
    """A setting the user chose cannot work; the message says which and why."""


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

    kind: str = "vae"  # "vae" or "cvae" (class one-hot into encoder and decoder)
    arch: str = "mlp"  # "mlp" or "conv"
    latent_dim: int = 10
    hidden: list[int] = field(default_factory=lambda: [400])  # MLP hidden sizes; conv: [fc size]
    image_size: int = 28
    channels: int = 1
    num_classes: int = 0

    @property
    def input_dim(self) -> int:
        return self.channels * self.image_size * self.image_size


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
        try:
            return cls(
                data=_build(DataConfig, d.get("data", {})),
                model=_build(ModelConfig, d.get("model", {})),
                train=_build(TrainConfig, d.get("train", {})),
            )
        except TypeError as e:  # unknown keys or wrong shapes
            raise ConfigError(f"invalid configuration: {e}") from None

    def validate(self) -> "RunConfig":
        m, t = self.model, self.train
        if m.kind not in MODEL_KINDS:
            raise ConfigError(f"unknown model kind {m.kind!r}; choose one of {', '.join(MODEL_KINDS)}")
        if m.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {m.arch!r}; choose one of {', '.join(ARCHS)}")
        if t.recon not in RECON_LOSSES:
            raise ConfigError(f"unknown reconstruction loss {t.recon!r}; choose bce or mse")
        if not 1 <= m.latent_dim <= 512:
            raise ConfigError(f"latent size must be between 1 and 512, not {m.latent_dim}")
        if not m.hidden or any(h < 1 for h in m.hidden):
            raise ConfigError("hidden sizes must be positive integers")
        if m.channels not in (1, 3):
            raise ConfigError(f"images must have 1 or 3 channels, not {m.channels}")
        if m.image_size < 4:
            raise ConfigError(f"image size {m.image_size} is too small")
        if m.arch == "conv" and m.image_size % 4:
            raise ConfigError(f"the convolutional model needs an image size divisible by 4, not {m.image_size}")
        if m.kind == "cvae" and m.num_classes < 2:
            raise ConfigError("a conditional VAE needs a data set with class labels")
        if t.beta < 0 or t.gamma < 0:
            raise ConfigError("beta and gamma must be zero or positive")
        if not t.lr > 0:
            raise ConfigError("the learning rate must be positive")
        if t.batch_size < 1 or t.epochs < 1:
            raise ConfigError("batch size and epochs must be at least 1")
        if t.kl_warmup_epochs < 0:
            raise ConfigError("KL warm-up epochs cannot be negative")
        return self


def _build(kind, d):
    if not isinstance(d, dict):
        raise TypeError(f"{kind.__name__} must be an object")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(d) - names
    if unknown:
        raise TypeError(f"unknown {kind.__name__} field(s): {', '.join(sorted(unknown))}")
    return kind(**d)
