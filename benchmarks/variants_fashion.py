"""The likelihood objectives on Fashion-MNIST: VAE vs IWAE (K = 5) vs InfoVAE at equal epochs.

Each model is trained with the same network, seed, data and epochs, then scored on the test split: the
negative ELBO (one draw per image, recon + analytic KL) and the importance-weighted bound on -log p(x) with
K = 100 (``core/metrics.py`` ``iwae_nll``), both in nats per image (lower is better), and the active units.
Burda et al. (2016) report the K = 5-trained IWAE beating the VAE on that bound by 1-2 nats on MNIST (after
3,280 passes over the data); this checks what a short run on Fashion-MNIST shows.

Protocol: dynamically binarised training images (a fixed binarisation of the test split), so that the
Bernoulli decoder's -log p(x) is a likelihood; MLP 784-200-200-50 (Burda et al.'s one-stochastic-layer
model, ReLU instead of tanh); Adam 1e-3, batch 128, beta 1, BCE; InfoVAE with its defaults (lambda 1000,
IMQ kernel) and the run's beta 1 as its KL weight.

    python benchmarks/variants_fashion.py [--epochs 10] [--data /usr/share/datasets/fashion-mnist]
        [--seeds 0] [--iwae-k 100] [--models vae,iwae,infovae] [--threads 1]

One seed of the three models takes about 8 minutes on one core of this 2-core machine (10 epochs); the
README's table is ``--seeds 0,1,2``.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tree this script sits in, not an installed copy

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.metrics import active_units, evaluate_elbo, iwae_nll, posterior_means  # noqa: E402
from vae_studio.core.training import Trainer  # noqa: E402

MODELS = {  # name in the table -> (variant, its settings)
    "vae": ("vae", {}),
    "iwae": ("iwae", {"iw_samples": 5}),
    "infovae": ("infovae", {}),
}


def config(kind: str, settings: dict, a, seed: int) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="fashion-mnist", root=a.data, binarize=True, seed=seed),
                     model=ModelConfig(kind=kind, arch="mlp", latent_dim=50, hidden=[200, 200], settings=settings),
                     train=TrainConfig(beta=1.0, lr=1e-3, batch_size=128, epochs=a.epochs, seed=seed))


def score(name: str, a, seed: int, data=None):
    """Train one model; returns its scores and the data set (loaded once)."""
    kind, settings = MODELS[name]
    cfg = config(kind, settings, a, seed)
    data = data or load_dataset(cfg.data)
    trainer = Trainer(cfg, data)
    t0 = time.perf_counter()
    history = trainer.train()
    seconds = time.perf_counter() - t0
    model = trainer.model
    elbo = evaluate_elbo(model, data.test_x, data.test_y, seed=seed)
    iw = iwae_nll(model, data.test_x, data.test_y, k=a.iwae_k, seed=seed)
    au = active_units(posterior_means(model, data.test_x, data.test_y))["active_units"]
    row = {"neg_elbo": elbo["neg_elbo"], "iwae_nll": iw["iwae_nll"], "active_units": au,
           "seconds_per_epoch": seconds / a.epochs, "status": history.status}
    print(f"{name} seed {seed}: -ELBO {row['neg_elbo']:.2f}  IWAE NLL (K={a.iwae_k}) {row['iwae_nll']:.2f}  "
          f"active units {au}  {row['seconds_per_epoch']:.1f} s/epoch  {history.status}", file=sys.stderr, flush=True)
    return row, data


def cell(values, digits=2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (each trains every model once)")
    p.add_argument("--iwae-k", type=int, default=100)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a machine shared with other jobs, 2 threads ran 8x slower here)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",")]
    names = a.models.split(",")
    rows: dict[str, list[dict]] = {name: [] for name in names}
    for seed in seeds:
        data = None  # the binarisation of the test split follows the seed
        for name in names:
            row, data = score(name, a, seed, data)
            rows[name].append(row)
    spread = "mean ± sd over seeds " + a.seeds if len(seeds) > 1 else f"seed {a.seeds}"
    print(f"Fashion-MNIST (binarised), MLP 784-200-200-50, {a.epochs} epochs, {spread}; test split, nats per "
          f"image; {date.today().isoformat()}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}\n")
    print(f"| model | test -ELBO | test IWAE NLL (K={a.iwae_k}) | active units (of 50) | s / epoch |")
    print("|---|---|---|---|---|")
    labels = {"vae": "VAE", "iwae": "IWAE (K = 5)", "infovae": "InfoVAE (lambda 1000, IMQ, beta 1)"}
    for name in names:
        rs = rows[name]
        bad = [r["status"] for r in rs if r["status"] != "finished"]
        note = f" ({', '.join(bad)})" if bad else ""
        print(f"| {labels[name]}{note} | {cell([r['neg_elbo'] for r in rs])} | {cell([r['iwae_nll'] for r in rs])} "
              f"| {cell([r['active_units'] for r in rs], 0)} | {cell([r['seconds_per_epoch'] for r in rs], 1)} |")
    if "vae" in rows and "iwae" in rows:
        gaps = [v["iwae_nll"] - i["iwae_nll"] for v, i in zip(rows["vae"], rows["iwae"])]
        print(f"\nVAE minus IWAE on the K={a.iwae_k} bound, per seed: " + ", ".join(f"{g:.2f}" for g in gaps)
              + " nats (positive: the IWAE model is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
