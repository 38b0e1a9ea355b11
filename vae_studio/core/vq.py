"""The VQ-VAE (van den Oord et al. 2017): a convolutional encoder to an h x w grid of D-dimensional vectors,
each replaced by the nearest of K codebook vectors, and a decoder from the quantised grid.

The codebook is not trained by gradients but by exponential moving averages of the encoder outputs assigned
to each code (the paper's appendix; Sonnet's ``VectorQuantizerEMA``), with Laplace smoothing of the counts.
Codes that no encoder output chose for ``restart_after`` consecutive training steps are re-seeded from
encoder outputs of the current batch (the usual remedy for codebook collapse, as in Jukebox); since every
code starts "unused for long", the first training step seeds the codebook from the data. The codebook, the
moving averages and the idle counters are buffers: they are saved with the weights (float32) and never see
the optimiser. Their update happens in :meth:`VectorQuantizer.forward` in training mode, and its random
draws come from the generator passed in (the run's own).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from .config import ModelConfig
from .distributed import all_reduce_sum_, broadcast_
from .losses import recon_per_sample
from .variants import get_variant

LAPLACE_EPS = 1e-5


@dataclass
class Quantised:
    z_q: torch.Tensor  # (B, D, h, w) quantised grid, straight-through: its gradient flows to the encoder output
    codes: torch.Tensor  # (B, h, w) long, the index of each cell's code
    commitment: torch.Tensor  # scalar: mean over the batch of sum ||z_e - sg(z_q)||^2 over the grid
    perplexity: torch.Tensor  # scalar: exp(entropy) of the batch's code histogram
    codes_in_use: torch.Tensor  # scalar (float): how many codes the batch uses


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation of (B, D, h, w) grids with an EMA-updated codebook and dead-code restarts."""

    def __init__(self, num_codes: int, code_dim: int, decay: float = 0.99, restart_after: int = 100):
        super().__init__()
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.decay, self.restart_after = float(decay), int(restart_after)
        self.register_buffer("codebook", torch.zeros(num_codes, code_dim))
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", torch.zeros(num_codes, code_dim))
        # training steps since each code was last chosen (float: run folders keep float32 tensors only)
        self.register_buffer("idle_steps", torch.zeros(num_codes))

    @torch.no_grad()
    def reset_with(self, generator: torch.Generator) -> None:
        """Initial state (called by ``models.init_parameters`` with the run's weight generator): codes uniform
        in +-1/K, moving averages consistent with them, every code due for a restart from the data."""
        k = self.num_codes
        self.codebook.copy_(torch.rand(self.codebook.shape, generator=generator).mul_(2 / k).sub_(1 / k))
        self.ema_count.fill_(1.0)
        self.ema_sum.copy_(self.codebook)
        self.idle_steps.fill_(float(max(self.restart_after, 1)))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """(N, D) vectors -> (N,) index of the nearest code (squared Euclidean distance)."""
        cb = self.codebook
        d = flat.square().sum(1, keepdim=True) - 2 * flat @ cb.T + cb.square().sum(1)
        return d.argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w) code indices -> (B, D, h, w) code vectors."""
        return self.codebook[codes].permute(0, 3, 1, 2)

    def forward(self, z_e: torch.Tensor, generator: torch.Generator | None = None) -> Quantised:
        z_e = z_e.float()
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        codes = self.nearest(flat.detach())
        counts = torch.bincount(codes, minlength=self.num_codes).float()
        if self.training:
            self._update(flat.detach(), codes, counts, generator)
        z_q = self.codebook[codes].view(b, h, w, d).permute(0, 3, 1, 2)
        commitment = (z_e - z_q.detach()).square().flatten(1).sum(1).mean()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-10))).sum())
        z_st = z_e + (z_q - z_e).detach()  # straight-through: forward z_q, gradient to z_e unchanged
        return Quantised(z_st, codes.view(b, h, w), commitment, perplexity, (counts > 0).sum().float())

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, codes: torch.Tensor, counts: torch.Tensor,
                generator: torch.Generator | None) -> None:
        """One EMA step of the codebook on this batch, then the restart of codes idle for too long. No host
        synchronisation: the restart draws K candidates every step and keeps those of dead codes."""
        g, k = self.decay, self.num_codes
        sums = torch.zeros_like(self.ema_sum).index_add_(0, codes, flat)
        counts = all_reduce_sum_(counts.clone())  # under torchrun: the global batch's, the same on every rank
        all_reduce_sum_(sums)
        self.ema_count.mul_(g).add_(counts, alpha=1 - g)
        self.ema_sum.mul_(g).add_(sums, alpha=1 - g)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + LAPLACE_EPS) / (n + k * LAPLACE_EPS) * n
        self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self.idle_steps.add_(1).masked_fill_(counts > 0, 0)
        if self.restart_after > 0:
            dead = self.idle_steps >= self.restart_after
            pick = torch.randint(len(flat), (k,), generator=generator, device=flat.device)
            fresh = broadcast_(flat.index_select(0, pick))  # under torchrun: rank 0's picks on every rank
            self.codebook.copy_(torch.where(dead.unsqueeze(1), fresh, self.codebook))
            self.ema_sum.copy_(torch.where(dead.unsqueeze(1), fresh, self.ema_sum))
            self.ema_count.masked_fill_(dead, 1.0)
            self.idle_steps.masked_fill_(dead, 0.0)


@dataclass
class VQOutput:
    logits: torch.Tensor  # (B, C, H, W)
    z_e: torch.Tensor  # (B, D, h, w) the encoder's continuous output
    q: Quantised


def grid_size(m: ModelConfig) -> int:
    """Cells along each side of the code grid (two stride-2 convolutions)."""
    return m.image_size // 4


class VQVAE(nn.Module):
    """Encoder: Conv(C, 32, 4, s2) ReLU Conv(32, 64, 4, s2) ReLU Conv(64, D, 1) -> (B, D, H/4, W/4);
    quantiser; decoder: Conv(D, 64, 3) ReLU ConvT(64, 32, 4, s2) ReLU ConvT(32, C, 4, s2) -> logits."""

    num_classes = 0
    conditional = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        s = get_variant(cfg.kind).settings(cfg.settings)
        c, d = cfg.channels, s.code_dim
        self.encoder = nn.Sequential(nn.Conv2d(c, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(64, d, 1))
        self.quantizer = VectorQuantizer(s.codebook_size, d, s.ema_decay, s.restart_after)
        self.decoder = nn.Sequential(nn.Conv2d(d, 64, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1),
                                     nn.ReLU(), nn.ConvTranspose2d(32, c, 4, 2, 1))
        self.grid = grid_size(cfg)
        self.__dict__["code_prior"] = None  # not a submodule: the prior is a file of its own, not in the weights

    def attach_prior(self, prior: nn.Module | None) -> None:
        """Give the model its fitted :class:`~vae_studio.core.code_prior.CodePrior` (or None), so that it can
        sample; kept outside the weights (``state_dict``) on purpose."""
        self.__dict__["code_prior"] = prior

    @property
    def latent_dim(self) -> int:
        """Explorer coordinates: the encoder's continuous output before quantisation, flattened (D x h x w)."""
        return self.code_dim * self.grid * self.grid

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def code_dim(self) -> int:
        return self.quantizer.code_dim

    def encode_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> the encoder's continuous output (B, D, h, w)."""
        return self.encoder(x)

    def decode_grid(self, z_q: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) code vectors -> logits (B, C, H, W)."""
        return self.decoder(z_q)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> (B, h, w) code indices."""
        z_e = self.encode_grid(x).float()
        b, d, h, w = z_e.shape
        return self.quantizer.nearest(z_e.permute(0, 2, 3, 1).reshape(-1, d)).view(b, h, w)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w) code indices -> logits."""
        return self.decode_grid(self.quantizer.lookup(codes))

    def forward(self, x: torch.Tensor, y=None, generator: torch.Generator | None = None) -> VQOutput:
        z_e = self.encode_grid(x)
        q = self.quantizer(z_e, generator)
        return VQOutput(self.decode_grid(q.z_q.to(z_e.dtype)), z_e, q)

    def elbo_terms(self, x, y, generator, recon: str = "bce"):
        """(recon (B,), KL per cell (B, h*w)): with a one-hot posterior and a uniform prior over the K codes the
        KL of each cell is log K (the paper's remark); -ELBO is then a bound that ignores any fitted prior."""
        out = self(x, None, generator)
        rec = recon_per_sample(out.logits.float(), x, recon)
        kl = torch.full((len(x), self.grid * self.grid), math.log(self.num_codes), device=x.device)
        return rec, kl

