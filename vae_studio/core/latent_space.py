"""What a model's latent space is, asked by the panels, the CLI and the metrics instead of assuming one
Gaussian vector: one adapter per latent kind (``Variant.latent_kind``), made by :func:`space_for`.

Every space gives the explorer a vector of ``dim`` coordinates per image: :meth:`encode` (coordinates and
their log-variance, for the scatter and the endpoints), :meth:`decode` (coordinates -> logits, for the probe,
traversals, interpolation and the sampling grid) and :meth:`prior_latents` (coordinates of prior samples;
:class:`NoPrior` when the model has none yet). ``metrics`` names the metrics that apply.

- ``gaussian``: z itself, prior N(0, I).
- ``levels`` (a hierarchical VAE): the values of one level (default the top); decoding goes down the
  generative path with the levels below at their conditional means, or resampled (``resample_lower``).
- ``codes`` (a VQ-VAE): the encoder's continuous output before quantisation, flattened (D x h x w); decoding
  quantises each cell to its nearest code. Its prior is the fitted :class:`~vae_studio.core.code_prior.CodePrior`.
"""
from __future__ import annotations

import torch

from .variants import get_variant


class NoPrior(ValueError):
    """The model cannot sample yet (a VQ-VAE before its prior is fitted); the message says what to do."""


def _generator(seed: int, device=None) -> torch.Generator:
    return torch.Generator(device=device or "cpu").manual_seed(int(seed))


class GaussianSpace:
    kind = "gaussian"
    metrics = ("neg_elbo", "iwae_nll", "active_units", "disentanglement")
    fits_prior = False  # whether its prior is fitted after training, as a second stage (a VQ-VAE's code prior)

    def __init__(self, model):
        self.model = model

    @property
    def has_prior(self) -> bool:
        """Whether :meth:`prior_latents` can sample now."""
        return True

    @property
    def level_names(self) -> tuple[str, ...]:
        """Names of the levels the explorer can show, bottom first (several only for a hierarchy)."""
        return ()

    def view(self, level: int | None = None, resample_lower: bool = False) -> GaussianSpace:
        """This space showing ``level`` with the levels below it held at their means or resampled; a space
        without levels is itself."""
        return self

    def coarse_to_fine(self, rows: int, columns: int, temperature: float = 1.0, seed: int = 0):
        """(images, coordinates) of a grid whose rows keep one draw of the top level and whose columns
        resample the levels below (see :func:`fixed_top_rows`); None for a space without levels."""
        return None

    @property
    def codebook(self) -> torch.Tensor | None:
        """(K, D) code vectors of a discrete code grid; None for continuous latents."""
        return None

    def code_usage(self, z: torch.Tensor):
        """(K,) how many cells of the coordinates ``z`` (N, dim) use each code; None for continuous latents."""
        return None

    @property
    def dim(self) -> int:
        return self.model.latent_dim

    def encode(self, x: torch.Tensor, y=None):
        """Float images -> (coordinates, log-variance), each (B, dim)."""
        return self.model.encode(x, y)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """(B, dim) coordinates -> logits (B, C, H, W)."""
        return self.model.decode(z, y)

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """(B, dim) coordinates -> images in [0, 1]."""
        return self.model.decode_images(z, y) if self.kind == "gaussian" else torch.sigmoid(self.decode(z, y))

    def prior_latents(self, n: int, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
        """(n, dim) coordinates of prior samples (CPU), the same for the same seed."""
        return torch.randn(n, self.dim, generator=_generator(seed)) * temperature

    def prior_text(self, temperature: float) -> str:
        return f"z ~ N(0, {temperature:g}² I)"

    def coordinate_kl(self, kl_per_dim) -> list | None:
        """A run's recorded KL per dimension, restricted to the coordinates (None when it does not fit)."""
        return list(kl_per_dim) if kl_per_dim is not None and len(kl_per_dim) == self.dim else None


class LevelsSpace(GaussianSpace):
    kind = "levels"
    metrics = ("neg_elbo", "iwae_nll", "active_units")

    def __init__(self, model, level: int | None = None, resample_lower: bool = False, seed: int = 0):
        super().__init__(model)
        self.level = model.levels - 1 if level is None else int(level)
        if not 0 <= self.level < model.levels:
            raise ValueError(f"level {level} does not exist: this model has levels 0..{model.levels - 1}")
        self.resample_lower, self.seed = resample_lower, seed

    @property
    def dim(self) -> int:
        return self.model.dims[self.level]

    @property
    def level_names(self) -> tuple[str, ...]:
        top = self.model.levels - 1
        return tuple(f"z{i + 1}: {'top, ' if i == top else ''}{'bottom, ' if i == 0 else ''}{d} dimensions"
                     for i, d in enumerate(self.model.dims))

    def view(self, level=None, resample_lower=False):
        return LevelsSpace(self.model, level, resample_lower, self.seed)

    def coarse_to_fine(self, rows, columns, temperature=1.0, seed=0):
        images = fixed_top_rows(self.model, rows, columns, temperature, seed)
        top = torch.randn(rows, self.model.dims[-1], generator=_generator(seed)) * temperature  # the rows' draws
        return images, top.repeat_interleave(columns, dim=0)

    def encode(self, x, y=None):
        lv = self.model.infer(x, sample=False)[self.level]  # the levels above at their posterior means
        return lv.mu, lv.logvar

    def decode(self, z, y=None):
        g = _generator(self.seed, z.device) if self.resample_lower else None
        return self.model.decoder(self.model.generate(z, self.level, g, sample=self.resample_lower)[0])

    def prior_latents(self, n, temperature=1.0, seed=0):
        g = _generator(seed)
        top = torch.randn(n, self.model.dims[-1], generator=g) * temperature
        dev = next(self.model.parameters()).device
        with torch.no_grad():
            zs = self.model.generate(top.to(dev), None, _generator(seed, dev), temperature=temperature)
        return zs[self.level].cpu()

    def prior_text(self, temperature):
        below = "resampled" if self.resample_lower else "at their means"
        return (f"z{self.model.levels} ~ N(0, {temperature:g}² I), showing z{self.level + 1}; "
                f"levels below {below}")

    def coordinate_kl(self, kl_per_dim):
        if kl_per_dim is None or len(kl_per_dim) != sum(self.model.dims):
            return None
        start = sum(self.model.dims[:self.level])
        return list(kl_per_dim[start:start + self.dim])


class CodesSpace(GaussianSpace):
    kind = "codes"
    metrics = ("recon", "perplexity", "codes_in_use", "prior_nll")
    fits_prior = True

    @property
    def has_prior(self) -> bool:
        return self.model.code_prior is not None

    @property
    def codebook(self) -> torch.Tensor:
        return self.model.quantizer.codebook

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) cells of the code grid."""
        return self.model.grid, self.model.grid

    @torch.no_grad()
    def codes_of(self, z: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """(B, dim) coordinates -> (B, h, w) indices of the nearest code of each cell."""
        m = self.model
        z = z.reshape(-1, self.dim).float()
        out = []
        for i in range(0, len(z), batch_size):
            grid = z[i:i + batch_size].reshape(-1, m.code_dim, m.grid, m.grid)
            flat = grid.permute(0, 2, 3, 1).reshape(-1, m.code_dim)
            out.append(m.quantizer.nearest(flat.to(self.codebook.device)).view(-1, m.grid, m.grid).cpu())
        return torch.cat(out) if out else torch.zeros(0, m.grid, m.grid, dtype=torch.long)

    def code_usage(self, z):
        return torch.bincount(self.codes_of(torch.as_tensor(z)).flatten(), minlength=self.model.num_codes)

    @property
    def dim(self) -> int:
        return self.model.code_dim * self.model.grid ** 2

    def encode(self, x, y=None):
        z = self.model.encode_grid(x).flatten(1)
        return z, torch.zeros_like(z)

    def decode(self, z, y=None):
        m = self.model
        grid = z.reshape(-1, m.code_dim, m.grid, m.grid).float()
        b, d, h, w = grid.shape
        codes = m.quantizer.nearest(grid.permute(0, 2, 3, 1).reshape(-1, d)).view(b, h, w)
        return m.decode_codes(codes)

    def codes_to_latents(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w) or (B, h*w) code indices -> (B, dim) coordinates (their code vectors)."""
        m = self.model
        return m.quantizer.lookup(codes.reshape(-1, m.grid, m.grid)).flatten(1)

    def prior_latents(self, n, temperature=1.0, seed=0):
        prior = self.model.code_prior
        if prior is None:
            raise NoPrior("this VQ-VAE has no prior yet, so it cannot sample: fit one over its codes "
                          "(vae-studio fit-prior RUN)")
        if not temperature > 0:
            raise ValueError("the code prior samples at a temperature above 0")
        dev = next(self.model.parameters()).device
        prior.to(dev)
        codes = prior.sample(n, temperature, _generator(seed, dev))
        with torch.no_grad():
            return self.codes_to_latents(codes).cpu()

    def prior_text(self, temperature):
        return f"codes from the fitted prior at temperature {temperature:g}"

    def coordinate_kl(self, kl_per_dim):
        return None


SPACES = {"gaussian": GaussianSpace, "levels": LevelsSpace, "codes": CodesSpace}


def space_for(model, **options) -> GaussianSpace:
    """The latent space of ``model`` (by its variant's latent kind; a bare network without a config: one
    Gaussian vector); ``options`` go to its adapter."""
    cfg = getattr(model, "cfg", None)
    kind = get_variant(cfg.kind).latent_kind if cfg is not None else "gaussian"
    return SPACES[kind](model, **options)


@torch.no_grad()
def fixed_top_rows(model, rows: int, columns: int, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Images (rows * columns, C, H, W) of a hierarchical VAE: one top-level draw per row, the levels below
    resampled in every column; what each level controls, coarse (rows) to fine (columns)."""
    dev = next(model.parameters()).device
    top = torch.randn(rows, model.dims[-1], generator=_generator(seed)) * temperature
    top = top.to(dev).repeat_interleave(columns, dim=0)
    z1 = model.generate(top, None, _generator(seed + 1, dev), temperature=temperature)[0]
    return torch.sigmoid(model.decoder(z1)).cpu()
