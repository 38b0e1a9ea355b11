"""How good a model is, on a held-out split: negative ELBO and its parts, per sample, in nats; the
importance-weighted bound on the log-likelihood; active units; and, on data with known factors, the
disentanglement scores of ``disentanglement.py``. :func:`evaluate_run` gathers all that apply."""
from __future__ import annotations

import math

import numpy as np
import torch

from .losses import recon_per_sample
from .models import VAE
from .latent_space import space_for
from .variants import get_variant

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2016
DISENTANGLEMENT_SAMPLES = 10000  # images encoded for MIG and the FactorVAE score


class Cancelled(Exception):
    """Raised by a metric when its ``should_stop`` callable asks it to stop."""


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def iter_batches(x: torch.Tensor, y: torch.Tensor | None, batch_size: int, device: torch.device):
    """uint8 images (and labels) -> float batches on the device."""
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device).float().div_(255.0)
        yb = y[i:i + batch_size].to(device) if y is not None else None
        yield xb, yb


@torch.no_grad()
def evaluate_elbo(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *, beta: float = 1.0,
                  gamma: float = 1.0, recon: str = "bce", seed: int = 0, batch_size: int = 1000,
                  generator: torch.Generator | None = None) -> dict:
    """Single-sample ELBO terms over a whole split (uint8 images), averaged per sample.

    Returns ``recon``, ``kl``, ``kl_per_dim`` (list), ``neg_elbo`` (recon + KL: the true negative ELBO
    for BCE) and ``total`` (the training objective gamma*recon + beta*KL). The noise comes from
    ``generator`` (on the model's device) or, by default, from a new one seeded with ``seed``, so the same
    model gives the same numbers; torch's global generator is never used.
    """
    was_training = model.training
    model.eval()
    dev = _device(model)
    g = generator if generator is not None else torch.Generator(device=dev).manual_seed(seed)
    rec_sum = torch.zeros((), device=dev, dtype=torch.float64)
    kld_sum = torch.zeros((), device=dev, dtype=torch.float64)
    yb_needed = y if model.conditional else None
    for xb, yb in iter_batches(x, yb_needed, batch_size, dev):
        rec, kld = model.elbo_terms(xb, yb, g, recon)  # the model's own latent space (levels, codes)
        rec_sum += rec.double().sum()
        kld_sum = kld_sum + kld.double().sum(0)
    model.train(was_training)
    n = max(len(x), 1)
    rec = float(rec_sum) / n
    kld = (kld_sum / n).tolist() if kld_sum.dim() else [0.0] * get_variant(model.cfg.kind).kl_size(model.cfg)
    kl = float(sum(kld))
    return {"recon": rec, "kl": kl, "kl_per_dim": kld, "neg_elbo": rec + kl, "total": gamma * rec + beta * kl,
            "n": len(x)}


# ------------------------------------------------------------------------------------------------ IWAE


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).square() * torch.exp(-logvar)).sum(-1)


def _repeat(xb: torch.Tensor, m: int) -> torch.Tensor:
    """(b, ...) -> (m * b, ...): the batch m times over."""
    return xb.unsqueeze(0).expand(m, *xb.shape).reshape(m * len(xb), *xb.shape[1:])


def _log_weights_of(model, xb: torch.Tensor, yb: torch.Tensor | None, g: torch.Generator):
    """A function m -> (m, b) importance log-weights log p(x, z) - log q(z|x) of m more samples z ~ q(z|x)
    per image of ``xb``: the model's own ``log_weights`` where its latent is not one Gaussian vector (levels),
    else from the Gaussian encoder, the Bernoulli decoder and the N(0, I) prior."""
    b = len(xb)
    if hasattr(model, "log_weights"):
        return lambda m: model.log_weights(_repeat(xb, m), g).view(m, b)
    mu, logvar = model.encode(xb, yb)

    def chunk(m: int) -> torch.Tensor:
        eps = torch.randn((m, *mu.shape), generator=g, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)  # (m, b, D)
        yf = yb.repeat(m) if yb is not None else None
        log_px_z = -recon_per_sample(model.decode(z.reshape(m * b, -1), yf), _repeat(xb, m), "bce").view(m, b)
        return log_px_z + _log_normal(z, torch.zeros_like(z), torch.zeros_like(z)) - _log_normal(z, mu, logvar)
    return chunk


@torch.no_grad()
def iwae_nll(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 100, seed: int = 0,
             batch_size: int = 100, max_decodes: int = 5000, should_stop=None,
             generator: torch.Generator | None = None) -> dict:
    """Importance-weighted bound (Burda et al. 2016) on the negative log-likelihood, nats per sample.

    ``log p(x) >= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)`` with ``z_k ~ q(z|x)``, where ``p(x|z)`` is the
    Bernoulli decoder (``-recon_per_sample`` with BCE) and ``p(z) = N(0, I)``. Returns ``iwae_nll`` (the
    negative bound averaged over the split: lower is better; it is at most the negative ELBO up to noise and
    tightens as K grows), ``iwae_k`` and ``n``. Images go through in batches of ``batch_size`` and their K
    samples in chunks of at most ``max_decodes`` decodes, so memory stays bounded for any K. The samples come
    from ``generator`` (on the model's device) or a new one seeded with ``seed``, never torch's global one.
    ``should_stop`` (a callable) is polled between chunks; when it returns True, :class:`Cancelled` is raised.
    """
    if k < 1:
        raise ValueError(f"the IWAE sample count K must be at least 1, not {k}")
    was_training = model.training
    model.eval()
    dev = _device(model)
    g = generator if generator is not None else torch.Generator(device=dev).manual_seed(seed)
    total = torch.zeros((), device=dev, dtype=torch.float64)
    log_k = math.log(k)
    try:
        for xb, yb in iter_batches(x, y if model.conditional else None, batch_size, dev):
            b = len(xb)
            chunk = _log_weights_of(model, xb, yb, g)  # m -> (m, b) log-weights of m more samples
            logw = torch.empty(b, k, device=dev, dtype=torch.float64)
            per_chunk = max(1, max_decodes // b)
            for s in range(0, k, per_chunk):
                if should_stop is not None and should_stop():
                    raise Cancelled()
                m = min(per_chunk, k - s)
                logw[:, s:s + m] = chunk(m).double().T
            total += (torch.logsumexp(logw, dim=1) - log_k).sum()
    finally:
        model.train(was_training)
    n = max(len(x), 1)
    return {"iwae_nll": -float(total) / n, "iwae_k": int(k), "n": len(x)}


# ------------------------------------------------------------------------------------------------ codes


@torch.no_grad()
def posterior_means(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 2000,
                    should_stop=None, space=None) -> np.ndarray:
    """(N, D) float64 posterior means E_q[z|x] of uint8 images, as NumPy, in the coordinates of ``space``
    (default: the model's latent space)."""
    space = space or space_for(model)
    was_training = model.training
    model.eval()
    dev = _device(model)
    out = []
    try:
        for xb, yb in iter_batches(x, y if model.conditional else None, batch_size, dev):
            if should_stop is not None and should_stop():
                raise Cancelled()
            out.append(space.encode(xb, yb)[0].double().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, space.dim))


def active_units(means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> dict:
    """Active units (Burda et al. 2016): dimensions whose posterior mean varies over the data,
    ``Var_x(E_q[z_d|x]) > threshold`` (0.01). ``means`` is (N, D). Returns ``active_units`` (count) and
    ``mean_variance_per_dim`` (list)."""
    means = np.asarray(means, dtype=np.float64)
    var = means.var(axis=0) if len(means) else np.zeros(means.shape[1])
    return {"active_units": int((var > threshold).sum()), "mean_variance_per_dim": var.tolist()}


# ------------------------------------------------------------------------------------------------ all of it


def _disentanglement_sample(data, n: int, seed: int):
    """Up to ``n`` images (seeded, without replacement) from train and test together, with their factors."""
    x = torch.cat([data.train_x, data.test_x])
    f = np.concatenate([data.train_factors, data.test_factors])
    y = None
    if data.train_y is not None and data.test_y is not None:
        y = torch.cat([data.train_y, data.test_y])
    if len(x) > n:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
        t = torch.from_numpy(idx)
        x, f, y = x[t], f[idx], (y[t] if y is not None else None)
    return x, f, y


def check_compatible(model: VAE, data) -> None:
    """Raise ValueError (one line) when ``data`` cannot go through ``model``."""
    c = model.cfg
    if (data.channels, data.image_size) != (c.channels, c.image_size):
        raise ValueError(f"the model takes {c.channels}x{c.image_size}x{c.image_size} images but the data set "
                         f"{data.name!r} has {data.channels}x{data.image_size}x{data.image_size}")
    if model.conditional and data.num_classes != model.num_classes:
        raise ValueError(f"the conditional model has {model.num_classes} classes but the data set "
                         f"{data.name!r} has {data.num_classes}")


def trained_steps(history) -> int:
    """How many optimiser steps a run's History records (its last logged step or epoch end; 0 if none)."""
    last_step = int(history.steps[-1][0]) if history.steps else 0
    last_epoch = int(history.epochs[-1].get("step", 0)) if history.epochs else 0
    return max(last_step, last_epoch)


def objective_terms(model: VAE, data, config, *, beta: float, seed: int = 0, steps_done: int = 0) -> dict:
    """The run's own objective on the test split: ``objective`` (the variant's name), ``objective_total`` (its
    training loss), ``objective_terms`` (the names of its own terms) and each own term by name. ``config`` is
    the run's RunConfig; ``steps_done`` the optimiser steps it was trained for (a loss on a schedule, such
    as capacity-vae's, is evaluated at that point)."""
    variant = get_variant(config.model.kind)
    objective = variant.make_objective(config, len(data.train_x), _device(model))
    objective.steps_done = int(steps_done)
    own = objective.evaluate(model, data.test_x, data.test_y, beta, seed=seed)
    return {"objective": variant.name, "objective_total": own["total"], "objective_terms": list(objective.terms),
            **{name: own[name] for name in objective.terms}}


def evaluate_run(model: VAE, data, *, recon: str, beta: float, gamma: float, iwae_k: int = 100, seed: int = 0,
                 disentanglement_samples: int = DISENTANGLEMENT_SAMPLES, should_stop=None, config=None,
                 steps_done: int = 0) -> dict:
    """Every metric that applies to ``model`` on ``data`` (an ImageData): one JSON-serialisable dict.

    On the test split: ``neg_elbo``, ``recon``, ``kl``, ``kl_per_dim``, ``total`` (nats per sample), ``iwae_nll``
    (BCE runs with ``iwae_k`` > 0; ``None`` otherwise, with the reason in ``iwae_note``), ``active_units``.
    With the run's ``config`` (and ``steps_done``), also its objective's own terms (:func:`objective_terms`).
    On data with known factors, from ``disentanglement_samples`` images of the whole data set (seeded):
    ``mig``, ``mig_per_factor``, ``factorvae`` (evaluation accuracy) and ``factorvae_train``; ``None`` with a
    ``disentanglement_note`` otherwise.
    """
    def stop():
        if should_stop is not None and should_stop():
            raise Cancelled()

    check_compatible(model, data)
    space = space_for(model)
    if "neg_elbo" not in space.metrics:
        return evaluate_codes(model, data, recon=recon, seed=seed, should_stop=should_stop)
    res: dict = {"split": "test", "n": len(data.test_x)}
    elbo = evaluate_elbo(model, data.test_x, data.test_y, beta=beta, gamma=gamma, recon=recon, seed=seed)
    res.update({k: elbo[k] for k in ("neg_elbo", "recon", "kl", "kl_per_dim", "total")})
    if recon != "bce":
        res["neg_elbo_note"] = (f"with {recon} the reconstruction term is not a log-likelihood, so neg_elbo "
                                "is recon + KL, not a bound on -log p(x)")
    stop()
    if recon == "bce" and iwae_k > 0:
        res.update(iwae_nll(model, data.test_x, data.test_y, k=iwae_k, seed=seed, should_stop=should_stop))
        res["iwae_note"] = f"importance-weighted bound with K={iwae_k} samples, Bernoulli decoder"
    else:
        res.update({"iwae_nll": None, "iwae_k": int(iwae_k)})
        res["iwae_note"] = ("skipped: IWAE needs a likelihood, and an MSE run has no normalised decoder"
                            if recon != "bce" else "skipped (K = 0)")
    stop()
    means = posterior_means(model, data.test_x, data.test_y, should_stop=should_stop)
    res.update(active_units(means))
    res["latent_dim"] = int(model.latent_dim)
    if space.kind == "levels":  # active units of every level, bottom first
        res["active_units_per_level"] = [
            active_units(posterior_means(model, data.test_x, should_stop=should_stop,
                                         space=space_for(model, level=i)))["active_units"]
            for i in range(model.levels)]
        res["level_dims"] = list(model.dims)
    if getattr(data, "has_factors", False) and "disentanglement" in space.metrics:
        x, f, y = _disentanglement_sample(data, disentanglement_samples, seed)
        codes = posterior_means(model, x, y, should_stop=should_stop)
        stop()
        from .disentanglement import factor_vae_score, mutual_info_gap

        mig = mutual_info_gap(codes, f)
        res["mig"], res["mig_per_factor"] = mig["mig"], mig["mig_per_factor"]
        stop()
        fv = factor_vae_score(codes, f, seed=seed)
        res["factorvae"], res["factorvae_train"] = fv["factorvae_eval"], fv["factorvae_train"]
        res["factor_names"] = list(data.factor_names)
        res["disentanglement_n"] = int(len(codes))
    else:
        res.update({"mig": None, "factorvae": None,
                    "disentanglement_note": "the data set has no known generative factors"})
    if config is not None:
        stop()
        own = objective_terms(model, data, config, beta=beta, seed=seed, steps_done=steps_done)
        clash = sorted(set(own) & set(res))
        if clash:  # a variant's term named like a metric: a programming error, never silently overwritten
            raise RuntimeError(f"the {own['objective']} objective's term {clash[0]!r} clashes with a metric")
        res.update(own)
    return res


@torch.no_grad()
def evaluate_codes(model, data, *, recon: str = "bce", seed: int = 0, batch_size: int = 1000,
                   should_stop=None) -> dict:
    """The metrics of a model with a discrete code grid (a VQ-VAE) on the test split: reconstruction error
    (nats per image with BCE), codebook perplexity and usage over the whole split, and, with a fitted prior,
    its negative log-likelihood of the test codes (nats per image, bits per code). No ELBO is claimed."""
    from .code_prior import encode_codes, prior_nll

    x = data.test_x
    dev = _device(model)
    was = model.training
    model.eval()
    rec = torch.zeros((), dtype=torch.float64, device=dev)
    try:
        for xb, _ in iter_batches(x, None, batch_size, dev):
            if should_stop is not None and should_stop():
                raise Cancelled()
            rec += recon_per_sample(model.decode_codes(model.codes(xb)).float(), xb, recon).double().sum()
    finally:
        model.train(was)
    codes = encode_codes(model, x, batch_size)
    counts = torch.bincount(codes.flatten(), minlength=model.num_codes).double()
    p = counts / counts.sum().clamp_min(1)
    res = {"split": "test", "n": len(x), "recon": float(rec) / max(len(x), 1),
           "perplexity": float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())),
           "codes_in_use": int((counts > 0).sum()), "codebook_size": int(model.num_codes),
           "neg_elbo": None, "iwae_nll": None, "active_units": None, "mig": None, "factorvae": None,
           "neg_elbo_note": "a VQ-VAE has no ELBO to report: its posterior is a one-hot code grid",
           "iwae_note": "not for a VQ-VAE (discrete codes); see prior_nll"}
    if model.code_prior is not None:
        res.update(prior_nll(model.code_prior.to(dev), codes))
    else:
        res.update({"prior_nll": None, "prior_note": "no prior fitted (vae-studio fit-prior RUN)"})
    return res
