"""Encoders, decoders and the VAE that joins them.

One :class:`VAE` class serves the plain and the conditional model: with ``num_classes > 0`` the class
one-hot is concatenated to the encoder's features and to the decoder's input (Sohn et al. 2015).
The decoder always returns *logits*; images are ``sigmoid(logits)``. BCE uses the logits directly (the
numerically stable with-logits form); MSE compares ``sigmoid(logits)`` with the image.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import ModelConfig
from .losses import kl_per_dim, recon_per_sample
from .variants import get_variant

LOGVAR_RANGE = (-30.0, 20.0)  # clamp: exp() stays finite, the KL stays finite


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """x (B, C, H, W) -> features (B, hidden[-1])."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = _mlp([cfg.input_dim, *cfg.hidden])
        self.out_dim = cfg.hidden[-1]

    def forward(self, x):
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """z (B, in_dim) -> logits (B, C, H, W)."""

    def __init__(self, cfg: ModelConfig, in_dim: int):
        super().__init__()
        hidden = list(reversed(cfg.hidden))
        self.net = nn.Sequential(_mlp([in_dim, *hidden]), nn.Linear(hidden[-1], cfg.input_dim))
        self.shape = (cfg.channels, cfg.image_size, cfg.image_size)

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)


class ConvEncoder(nn.Module):
    """Document 004's layout, generalised: two stride-2 convolutions (32, 64 channels, kernel 4, pad 1),
    then a fully connected layer of ``hidden[0]`` units."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        s = cfg.image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(cfg.channels, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * s * s, cfg.hidden[0]), nn.ReLU(),
        )
        self.out_dim = cfg.hidden[0]

    def forward(self, x):
        return self.net(x)


class ConvDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig, in_dim: int):
        super().__init__()
        self.s = cfg.image_size // 4
        self.fc = nn.Sequential(
            nn.Linear(in_dim, cfg.hidden[0]), nn.ReLU(),
            nn.Linear(cfg.hidden[0], 64 * self.s * self.s), nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, cfg.channels, 4, 2, 1),
        )

    def forward(self, z):
        return self.deconv(self.fc(z).view(-1, 64, self.s, self.s))


class VAE(nn.Module):
    """Gaussian encoder q(z|x[,c]), decoder p(x|z[,c]) with Bernoulli logits, prior N(0, I)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.num_classes = cfg.num_classes if cfg.is_conditional else 0
        k = self.num_classes
        self.encoder = ConvEncoder(cfg) if cfg.arch == "conv" else MLPEncoder(cfg)
        self.to_stats = nn.Linear(self.encoder.out_dim + k, 2 * cfg.latent_dim)
        dec_in = cfg.latent_dim + k
        self.decoder = ConvDecoder(cfg, dec_in) if cfg.arch == "conv" else MLPDecoder(cfg, dec_in)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def _with_class(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional:
            return h
        if y is None:
            raise ValueError("a conditional VAE needs class labels")
        # a comparison rather than F.one_hot, whose label checks may wait for the device (not in a CUDA graph)
        one_hot = y.long().unsqueeze(1) == torch.arange(self.num_classes, device=y.device)
        return torch.cat([h, one_hot.to(h.dtype)], dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """x: float images in [0, 1], (B, C, H, W). Returns (mu, logvar), each (B, latent_dim)."""
        h = self._with_class(self.encoder(x), y)
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, latent_dim) -> logits (B, C, H, W); ``torch.sigmoid`` of them is the image."""
        return self.decoder(self._with_class(z, y))

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode(z, y))

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator | None,
                   recon: str = "bce"):
        """(recon (B,), KL per dimension (B, D)) of one draw z ~ q(z|x) from ``generator``: what
        ``metrics.evaluate_elbo`` averages (every model class answers this for its own latent space)."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn(mu.shape, generator=generator, device=mu.device) * torch.exp(0.5 * logvar)
        return recon_per_sample(self.decode(z, y), x, recon), kl_per_dim(mu, logvar)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, generator: torch.Generator | None = None):
        """(logits, mu, logvar) for one reparameterised draw ``z = mu + eps * sigma``; ``eps`` comes from
        ``generator`` (a run's own, on the model's device), or torch's global generator when None."""
        mu, logvar = self.encode(x, y)
        # float32 noise under bfloat16 autocast too: the same draws at every precision
        dtype = torch.float32 if mu.dtype in (torch.bfloat16, torch.float16) else mu.dtype
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=dtype)
        z = torch.addcmul(mu, eps, torch.exp(0.5 * logvar))
        return self.decode(z, y), mu, logvar


def init_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Give every linear and (transposed) convolution layer torch's default initialisation (Kaiming-uniform
    weights with a = sqrt(5), uniform biases in +-1/sqrt(fan_in)), drawn from ``generator`` instead of
    torch's global generator, so that building a run's model neither depends on nor disturbs what other
    threads draw."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        for m in model.modules():  # modules with state beyond these layers (a VQ-VAE's codebook buffers)
            if hasattr(m, "reset_with"):
                m.reset_with(generator)
    return model


def build_model(cfg: ModelConfig, seed: int | None = None) -> nn.Module:
    """A new model of the variant ``cfg.kind`` names (a :class:`VAE` for the Gaussian variants). With ``seed``, its initial weights come from a generator of its own seeded with it (the
    same weights on every device and whatever other threads draw; torch's global generator is not used);
    without, from torch's global generator as plain ``nn.Module`` construction does (fine for models whose
    weights are loaded next)."""
    model_class = get_variant(cfg.kind).model_class()
    if seed is None:
        return model_class(cfg)
    with torch.device("meta"):  # no storage, no random draws
        model = model_class(cfg)
    model = model.to_empty(device="cpu")
    return init_parameters(model, torch.Generator().manual_seed(seed))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
