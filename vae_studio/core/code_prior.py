"""The VQ-VAE's second stage: an autoregressive prior over its code grids, so that it can sample.

A VQ-VAE trains with a uniform prior over codes, so it has no sampler until a prior is fitted to the codes its
encoder gives the training images (van den Oord et al. 2017 fit a PixelCNN). Here: a small causal transformer
over the grid read row by row (:class:`CodePrior`), fitted by :func:`fit_code_prior` (a generator of
:class:`PriorProgress` records, like the trainer's), with every random draw from generators of its own.
Its negative log-likelihood of the test codes is reported in nats per image and in bits per code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import init_parameters

PRIOR_DEFAULTS = {"width": 64, "layers": 2, "heads": 4}


class _Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, h):
        b, t, c = h.shape
        q, k, v = self.qkv(self.ln1(h)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        h = h + self.proj(a)
        return h + self.mlp(self.ln2(h))


class CodePrior(nn.Module):
    """p(c_1..c_T) = prod_t p(c_t | c_<t) over the T = h*w cells of a code grid, read row by row."""

    def __init__(self, num_codes: int, cells: int, width: int = 64, layers: int = 2, heads: int = 4):
        super().__init__()
        if width % heads:
            raise ValueError(f"the prior's width {width} must be a multiple of its heads {heads}")
        self.num_codes, self.cells = int(num_codes), int(cells)
        self.shape = {"width": int(width), "layers": int(layers), "heads": int(heads)}
        self.token = nn.Parameter(torch.zeros(num_codes + 1, width))  # the last row: the start token
        self.position = nn.Parameter(torch.zeros(cells, width))
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_codes)

    @torch.no_grad()
    def reset_with(self, generator: torch.Generator) -> None:
        """Embeddings N(0, 0.02^2) from ``generator``; layer norms to identity (called by init_parameters)."""
        for p in (self.token, self.position):
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.reset_parameters()

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, t) codes (t <= T) -> (B, t, K) logits of each cell given the cells before it."""
        b, t = codes.shape
        start = torch.full((b, 1), self.num_codes, dtype=torch.long, device=codes.device)
        inputs = torch.cat([start, codes[:, :-1]], dim=1)
        h = self.token[inputs] + self.position[:t]
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln(h))

    def nll(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T) codes -> (B,) -log p(codes) in nats."""
        logits = self.forward(codes)
        return F.cross_entropy(logits.transpose(1, 2), codes, reduction="none").sum(1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, T) codes drawn cell by cell, logits divided by ``temperature`` (> 0; lower: safer samples)."""
        if not temperature > 0:
            raise ValueError(f"the temperature must be positive, not {temperature}")
        dev = self.token.device
        codes = torch.zeros(n, 0, dtype=torch.long, device=dev)
        for t in range(self.cells):
            logits = self.forward(torch.cat([codes, codes.new_zeros(n, 1)], dim=1))[:, t].float() / temperature
            nxt = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator)
            codes = torch.cat([codes, nxt], dim=1)
        return codes


def build_code_prior(num_codes: int, cells: int, seed: int | None = None, **shape) -> CodePrior:
    """A new prior; with ``seed`` its initial weights come from a generator of its own."""
    shape = {**PRIOR_DEFAULTS, **shape}
    if seed is None:
        return CodePrior(num_codes, cells, **shape)
    with torch.device("meta"):
        prior = CodePrior(num_codes, cells, **shape)
    return init_parameters(prior.to_empty(device="cpu"), torch.Generator().manual_seed(seed))


@torch.no_grad()
def encode_codes(model, x_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(N, h*w) code indices (CPU) that the VQ-VAE ``model`` gives uint8 images."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = [model.codes(x_uint8[i:i + batch_size].to(dev).float().div_(255.0)).flatten(1).cpu()
           for i in range(0, len(x_uint8), batch_size)]
    model.train(was)
    return torch.cat(out) if out else torch.zeros(0, model.grid * model.grid, dtype=torch.long)


@torch.no_grad()
def prior_nll(prior: CodePrior, codes: torch.Tensor, batch_size: int = 500) -> dict:
    """The prior's mean negative log-likelihood of (N, T) codes: nats per image and bits per code."""
    was = prior.training
    prior.eval()
    dev = prior.token.device
    total = sum(float(prior.nll(codes[i:i + batch_size].to(dev)).double().sum())
                for i in range(0, len(codes), batch_size))
    prior.train(was)
    nats = total / max(len(codes), 1)
    return {"prior_nll": nats, "prior_bits_per_code": nats / (prior.cells * math.log(2))}


@dataclass
class PriorProgress:
    epoch: int
    epochs: int
    train_nll: float  # nats per image, mean over the epoch
    test_nll: float  # nats per image on the test codes
    test_bits_per_code: float


def fit_code_prior(model, data, *, epochs: int = 10, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
                   device: torch.device | str = "cpu", prior: CodePrior | None = None,
                   should_stop=None) -> Iterator[PriorProgress | CodePrior]:
    """Fit a :class:`CodePrior` to the codes ``model`` gives ``data``'s training images; yields a
    :class:`PriorProgress` after each epoch and the fitted prior (on the CPU, eval mode) last. ``should_stop``
    (a callable) is polled between batches; when it returns True, the prior fitted so far is yielded."""
    device = torch.device(device)
    train, test = encode_codes(model, data.train_x), encode_codes(model, data.test_x)
    if prior is None:
        prior = build_code_prior(model.num_codes, train.shape[1], seed=seed)
    prior.to(device).train()
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    n = len(train)
    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for idx in torch.randperm(n, generator=shuffle).split(batch_size):
            if should_stop is not None and should_stop():
                yield prior.cpu().eval()
                return
            loss = prior.nll(train[idx].to(device)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        res = prior_nll(prior, test)
        yield PriorProgress(epoch, epochs, total / max(seen, 1), res["prior_nll"], res["prior_bits_per_code"])
    yield prior.cpu().eval()
