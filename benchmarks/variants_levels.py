"""VQ-VAE and the hierarchical VAE against the flat VAE: Fashion-MNIST bounds and reconstruction, and what each
level of the hierarchical VAE encodes on the built-in sprites. Prints Markdown tables.

    python benchmarks/variants_levels.py [--epochs 6] [--seeds 0,1] [--iwae-k 100] [--warmup 2]
                                         [--prior-epochs 2] [--sprites-epochs 4] [--threads 1] [--json OUT]

Every model is built as a RunConfig and trained by ``vae_studio.core.training.Trainer``: Adam lr 1e-3, batch 128,
BCE on the grey levels (no binarisation), the same epochs for every model of a table.

1. Fashion-MNIST (60,000 training, 10,000 test images), scores on the test split, nats per image:
   a. the MLP 784-400-20 flat VAE against ``hvae`` (the same encoder and decoder, 2 levels of 20, Ladder
      inference), without and with a linear KL warm-up of ``--warmup`` epochs: -ELBO (single sample), its
      reconstruction and KL (per level), the IWAE bound with K = ``--iwae-k`` (Burda et al. 2016; for hvae
      from its own importance weights over both levels), active units (per level for hvae). Each over
      ``--seeds``.
   b. the convolutional VAE (conv 32-64, fc 400, latent 20) against ``vq-vae`` (the same two stride-2
      convolutions to a 7x7 grid of 64-d codes, K 512, EMA 0.99, dead-code restarts after 100 idle steps),
      one seed: reconstruction term (BCE), the VAE's KL and -ELBO, the VQ-VAE's codebook perplexity and codes
      in use over the test split; then the code prior (``core/code_prior.py``, the ``fit-prior`` transformer,
      its defaults) fitted for ``--prior-epochs`` over the training codes: its NLL of the test codes in nats
      per image and bits per code, and recon + prior NLL, which bounds -log p(x) of the VQ-VAE as -ELBO does
      the VAE's (log p(x) >= log p(c(x)) + log p(x | c(x)) for the code grid the encoder picks).
2. Sprites (``sprites``, 32x32, factors shape, scale, rotation, x, y): ``hvae`` MLP 1024-400, levels z1 (10)
   and z2 (10), ``--sprites-epochs`` epochs, with and without the warm-up. The posterior means of every level
   (``latent_space.LevelsSpace``: the level's mean with the levels above at their means) of 10,000 images drawn
   (seed 0) from both splits, one draw of every level from q (top-down, seeded): per level and factor, the
   largest mutual information of one of the level's dimensions with the factor over the factor's entropy
   (disentanglement_lib's 20-bin discrete MI, as MIG) and the largest |Pearson correlation| of a dimension
   with the factor index; the same for z1's innovation over z2, ``z1 - mu_p(z1 | z2)`` (what z1 adds to what
   z2 already says: z1 feeds the decoder, so it carries z2's information too). Draws, not posterior means:
   binned MI and correlation ignore scale, so the means of a collapsed dimension (posterior = prior, tiny
   variation of the mean) can still correlate with a factor while the dimension transmits nothing; a draw's
   noise hides such variation as it does from the decoder. Active units: variance of the level's posterior
   means (levels above at their means) > 0.01.

Defaults take about 20 minutes on one thread of this machine (2 shared cores).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tree this script sits in

from vae_studio.core.code_prior import fit_code_prior, prior_nll, encode_codes  # noqa: E402
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.disentanglement import discrete_entropy, mutual_info_matrix  # noqa: E402
from vae_studio.core.latent_space import space_for  # noqa: E402
from vae_studio.core.metrics import _disentanglement_sample, active_units, evaluate_run, posterior_means  # noqa: E402
from vae_studio.core.training import Trainer  # noqa: E402


def train(dataset: str, data, model: ModelConfig, epochs: int, seed: int, warmup: int = 0):
    cfg = RunConfig(data=DataConfig(dataset=dataset), model=model,
                    train=TrainConfig(beta=1.0, lr=1e-3, batch_size=128, epochs=epochs, seed=seed, recon="bce",
                                      kl_warmup_epochs=warmup))
    t0 = time.perf_counter()
    trainer = Trainer(cfg, data)
    history = trainer.train()
    if history.status != "finished":
        raise RuntimeError(f"{model.kind} seed {seed}: {history.status}: {history.message}")
    return trainer.model, history, time.perf_counter() - t0


def cell(values, digits: int) -> str:
    values = [float(v) for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} +- {statistics.stdev(values):.{digits}f}"


# ------------------------------------------------------------------------------------------------ 1a


def fashion_mlp(data, a, log) -> dict:
    mlp = dict(arch="mlp", hidden=[400], latent_dim=20, image_size=28)
    rows = [("flat VAE", "vae", 0), ("hvae", "hvae", 0), (f"hvae, KL warm-up {a.warmup} epochs", "hvae", a.warmup)]
    if a.warmup > 0:
        rows.insert(1, (f"flat VAE, KL warm-up {a.warmup} epochs", "vae", a.warmup))
    else:
        rows = rows[:2]
    out: dict[str, list[dict]] = {}
    for label, kind, warmup in rows:
        for seed in a.seeds:
            model, hist, secs = train("fashion-mnist", data, ModelConfig(kind=kind, **mlp), a.epochs, seed, warmup)
            t0 = time.perf_counter()
            r = evaluate_run(model, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=a.iwae_k, seed=0)
            r = {k: r.get(k) for k in ("neg_elbo", "recon", "kl", "kl_per_dim", "iwae_nll", "active_units",
                                       "active_units_per_level", "level_dims")}
            if kind == "hvae":
                d1 = model.dims[0]
                r["kl_levels"] = [sum(r["kl_per_dim"][:d1]), sum(r["kl_per_dim"][d1:])]
            r["train_seconds"], r["eval_seconds"] = secs, time.perf_counter() - t0
            out.setdefault(label, []).append(r)
            log(f"  {label}, seed {seed}: -ELBO {r['neg_elbo']:.2f}, IWAE {r['iwae_nll']:.2f}, recon {r['recon']:.2f}, "
                f"KL {r['kl']:.2f} {r.get('kl_levels') or ''}, AU {r['active_units_per_level'] or r['active_units']}, "
                f"train {secs:.0f} s, eval {r['eval_seconds']:.0f} s")
    return out


def table_mlp(res: dict, k: int) -> str:
    lines = [f"| model | test -ELBO | IWAE bound (K={k}) | recon | KL (z1 / z2) | active units (z1 / z2) | train s |",
             "|---|---|---|---|---|---|---|"]
    for label, runs in res.items():
        kl = cell([r["kl"] for r in runs], 2)
        au = cell([r["active_units"] for r in runs], 1)
        if runs[0].get("kl_levels"):
            kl += " (" + " / ".join(cell([r["kl_levels"][i] for r in runs], 2) for i in range(2)) + ")"
            au = " / ".join(cell([r["active_units_per_level"][i] for r in runs], 1) for i in range(2))
        lines.append(f"| {label} | {cell([r['neg_elbo'] for r in runs], 2)} | {cell([r['iwae_nll'] for r in runs], 2)} "
                     f"| {cell([r['recon'] for r in runs], 2)} | {kl} | {au} "
                     f"| {statistics.fmean(r['train_seconds'] for r in runs):.0f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ 1b


def fashion_conv(data, a, log) -> dict:
    seed = a.seeds[0]
    out = {}
    model, hist, secs = train("fashion-mnist", data, ModelConfig(kind="vae", arch="conv", hidden=[400], latent_dim=20,
                                                                 image_size=28), a.epochs, seed)
    r = evaluate_run(model, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=0, seed=0)
    out["conv VAE"] = {"recon": r["recon"], "kl": r["kl"], "neg_elbo": r["neg_elbo"],
                       "active_units": r["active_units"], "train_seconds": secs}
    log(f"  conv VAE: recon {r['recon']:.2f}, KL {r['kl']:.2f}, -ELBO {r['neg_elbo']:.2f}, {secs:.0f} s")
    model, hist, secs = train("fashion-mnist", data, ModelConfig(kind="vq-vae", arch="conv", latent_dim=20,
                                                                 image_size=28), a.epochs, seed)
    r = evaluate_run(model, data, recon="bce", beta=1.0, gamma=1.0, seed=0)  # -> evaluate_codes
    v = {k: r[k] for k in ("recon", "perplexity", "codes_in_use", "codebook_size")}
    v["train_seconds"] = secs
    v["train_curve_codes_in_use"] = [float(e["test_codes_in_use"]) for e in hist.epochs] \
        if hist.epochs and "test_codes_in_use" in hist.epochs[0] else None
    log(f"  VQ-VAE: recon {v['recon']:.2f}, perplexity {v['perplexity']:.1f}, codes in use "
        f"{v['codes_in_use']}/{v['codebook_size']}, {secs:.0f} s")
    if a.prior_epochs > 0:
        t0 = time.perf_counter()
        prior = None
        for item in fit_code_prior(model, data, epochs=a.prior_epochs, seed=seed):
            if hasattr(item, "epoch"):
                log(f"    prior epoch {item.epoch}: train {item.train_nll:.2f}, test {item.test_nll:.2f} nats/image")
            else:
                prior = item
        nll = prior_nll(prior, encode_codes(model, data.test_x))
        v["prior_nll"], v["prior_bits_per_code"] = nll["prior_nll"], nll["prior_bits_per_code"]
        v["prior_seconds"] = time.perf_counter() - t0
        v["bound"] = v["recon"] + v["prior_nll"]
        log(f"  prior: {v['prior_nll']:.2f} nats/image, {v['prior_bits_per_code']:.3f} bits/code, "
            f"recon + prior {v['bound']:.2f}, {v['prior_seconds']:.0f} s")
    out["VQ-VAE"] = v
    return out


def table_conv(res: dict) -> str:
    c, v = res["conv VAE"], res["VQ-VAE"]
    lines = ["| model | recon (BCE) | KL / prior NLL | bound on -log p(x) | perplexity | codes in use | train s |",
             "|---|---|---|---|---|---|---|",
             f"| conv VAE (latent 20) | {c['recon']:.2f} | KL {c['kl']:.2f} | -ELBO {c['neg_elbo']:.2f} | - | - "
             f"| {c['train_seconds']:.0f} |"]
    if "prior_nll" in v:
        prior = f"prior {v['prior_nll']:.2f} ({v['prior_bits_per_code']:.3f} bits/code)"
        bound = f"recon + prior {v['bound']:.2f}"
    else:
        prior, bound = "no prior fitted", "-"
    lines.append(f"| VQ-VAE (7x7 codes, K {v['codebook_size']}) | {v['recon']:.2f} | {prior} | {bound} "
                 f"| {v['perplexity']:.1f} | {v['codes_in_use']} / {v['codebook_size']} | {v['train_seconds']:.0f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ 2


@torch.no_grad()
def level_draws(model, x, seed: int = 0, batch_size: int = 2000) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per level (bottom first): a draw z ~ q of every image (top-down, from a seeded generator) and its innovation
    z - mu_p(z | the level above's draw) (the top: z itself, its prior mean is 0), each (N, d)."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    parts = [[lv for lv in model.infer(xb.float().div(255.0), g)] for xb in x.split(batch_size)]
    return [(torch.cat([p[i].z for p in parts]).double().numpy(),
             torch.cat([p[i].z - p[i].prior_mu for p in parts]).double().numpy()) for i in range(model.levels)]


def factor_scores(z: np.ndarray, f: np.ndarray, entropy: np.ndarray) -> dict:
    """Max over dimensions of MI / H(factor) and of |Pearson r| with each factor."""
    mi = mutual_info_matrix(z, f) / entropy  # (D, F)
    std = z.std(0)
    fz = (f - f.mean(0)) / f.std(0)
    zz = (z - z.mean(0)) / np.where(std > 0, std, 1)
    corr = np.abs(zz.T @ fz / len(f))  # (D, F)
    return {"mi": mi.tolist(), "corr": corr.tolist(), "max_mi": mi.max(0).tolist(), "max_corr": corr.max(0).tolist(),
            "dims": int(z.shape[1])}


def level_factors(model, x, f) -> list[dict]:
    """Per level (bottom first): the scores of its draws and (below the top) of their innovations over the level
    above, and its active units (variance of its posterior means over the images > 0.01)."""
    entropy = np.array([discrete_entropy(f[:, j]) for j in range(f.shape[1])])
    out = []
    for level, (z, inn) in enumerate(level_draws(model, x)):
        row = factor_scores(z, f, entropy)
        means = posterior_means(model, x, space=space_for(model, level=level))
        row["active_units"] = active_units(means)["active_units"]
        if level < model.levels - 1:
            row["innovation"] = factor_scores(inn, f, entropy)
        out.append(row)
    return out


def sprites_levels(data, a, log) -> dict:
    x, f, _ = _disentanglement_sample(data, 10000, 0)
    out = {}
    for label, warmup in (("hvae", 0), (f"hvae, KL warm-up {a.warmup} epochs", a.warmup)):
        if label != "hvae" and a.warmup <= 0:
            continue
        for seed in a.seeds:
            model, hist, secs = train("sprites", data, ModelConfig(kind="hvae", arch="mlp", hidden=[400], latent_dim=10,
                                                                   image_size=32), a.sprites_epochs, seed, warmup)
            levels = level_factors(model, x, f)
            kl = [float(hist.last["test_kl_z1"]), float(hist.last["test_kl_z2"])]
            out.setdefault(label, []).append({"levels": levels, "test_kl": kl, "train_seconds": secs,
                                              "test_neg_elbo": float(hist.last["test_neg_elbo"])})
            def mis(scores):
                return " ".join(f"{m:.2f}" for m in scores["max_mi"])

            log(f"  sprites {label}, seed {seed}: -ELBO {hist.last['test_neg_elbo']:.2f}, "
                f"KL z1/z2 {kl[0]:.2f}/{kl[1]:.2f}, "
                + "; ".join(f"z{i + 1} MI {mis(lv)} AU {lv['active_units']}" for i, lv in enumerate(levels))
                + f"; z1 - E[z1|z2] MI {mis(levels[0]['innovation'])}, {secs:.0f} s")
    return out


def table_sprites(res: dict, names) -> str:
    head = " | ".join(f"{n}: MI/H, abs r" for n in names)
    lines = [f"| model | level | KL (nats) | active units | {head} |", "|---|---|---|---|" + "---|" * len(names)]
    for label, runs in res.items():
        for i in range(len(runs[0]["levels"])):
            cells = [f"{cell([r['levels'][i]['max_mi'][j] for r in runs], 2)}, "
                     f"{cell([r['levels'][i]['max_corr'][j] for r in runs], 2)}" for j in range(len(names))]
            kl = cell([r["test_kl"][i] for r in runs], 2)
            lines.append(f"| {label} | z{i + 1} ({runs[0]['levels'][i]['dims']}) | {kl} "
                         f"| {cell([r['levels'][i]['active_units'] for r in runs], 1)} | " + " | ".join(cells) + " |")
            if "innovation" in runs[0]["levels"][i]:
                inn = [r["levels"][i]["innovation"] for r in runs]
                cells = [f"{cell([v['max_mi'][j] for v in inn], 2)}, {cell([v['max_corr'][j] for v in inn], 2)}"
                         for j in range(len(names))]
                lines.append(f"| {label} | z{i + 1} - E[z{i + 1} given z{i + 2}] | | | "
                             + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6, help="Fashion-MNIST epochs, every model")
    ap.add_argument("--seeds", default="0,1", help="seeds of the MLP and sprites runs (the conv pair: the first)")
    ap.add_argument("--iwae-k", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=2, help="KL warm-up epochs of the warm-up rows (0: no such rows)")
    ap.add_argument("--prior-epochs", type=int, default=2, help="epochs of the VQ-VAE's code prior (0: none)")
    ap.add_argument("--sprites-epochs", type=int, default=4)
    ap.add_argument("--parts", default="mlp,conv,sprites")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    ap.add_argument("--json", help="also write every run's numbers here")
    a = ap.parse_args()
    a.seeds = [int(s) for s in a.seeds.split(",")]
    parts = a.parts.split(",")
    torch.set_num_threads(a.threads)
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:5.0f} s] {msg}", flush=True)

    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {a.threads} torch thread(s), torch {torch.__version__}; "
          f"python benchmarks/variants_levels.py {' '.join(sys.argv[1:])}", flush=True)
    results: dict = {"args": {k: v for k, v in vars(a).items()}}
    tables = []
    if "mlp" in parts or "conv" in parts:
        fashion = load_dataset(DataConfig(dataset="fashion-mnist"))
        if "mlp" in parts:
            results["fashion_mlp"] = fashion_mlp(fashion, a, log)
            tables.append(f"Fashion-MNIST, MLP 784-400-20, {a.epochs} epochs, seeds {a.seeds}:\n\n"
                          + table_mlp(results["fashion_mlp"], a.iwae_k))
        if "conv" in parts:
            results["fashion_conv"] = fashion_conv(fashion, a, log)
            tables.append(f"Fashion-MNIST, conv, {a.epochs} epochs, seed {a.seeds[0]}, prior {a.prior_epochs} "
                          f"epochs:\n\n" + table_conv(results["fashion_conv"]))
    if "sprites" in parts:
        sprites = load_dataset(DataConfig(dataset="sprites"))
        results["sprites"] = sprites_levels(sprites, a, log)
        results["factor_names"] = list(sprites.factor_names)
        tables.append(f"Sprites, hvae MLP 1024-400, z1 10, z2 10, {a.sprites_epochs} epochs, seeds {a.seeds}; per "
                      "factor the best dimension of the level:\n\n" + table_sprites(results["sprites"],
                                                                                    sprites.factor_names))
    log(f"done, load {os.getloadavg()[0]:.1f}\n")
    print("\n\n".join(tables))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
