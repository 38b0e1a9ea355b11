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
        [--seed 0] [--iwae-k 100] [--models vae,iwae,infovae] [--threads 1]
"""
from __future__ import annotations

import argparse
import platform
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


def config(kind: str, settings: dict, a) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="fashion-mnist", root=a.data, binarize=True, seed=a.seed),
                     model=ModelConfig(kind=kind, arch="mlp", latent_dim=50, hidden=[200, 200], settings=settings),
                     train=TrainConfig(beta=1.0, lr=1e-3, batch_size=128, epochs=a.epochs, seed=a.seed))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iwae-k", type=int, default=100)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a machine shared with other jobs, 2 threads ran 8x slower here)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = None
    rows = []
    for name in a.models.split(","):
        kind, settings = MODELS[name]
        cfg = config(kind, settings, a)
        data = data or load_dataset(cfg.data)
        trainer = Trainer(cfg, data)
        t0 = time.perf_counter()
        history = trainer.train()
        seconds = time.perf_counter() - t0
        model, t = trainer.model, cfg.train
        elbo = evaluate_elbo(model, data.test_x, data.test_y, seed=t.seed)
        iw = iwae_nll(model, data.test_x, data.test_y, k=a.iwae_k, seed=t.seed)
        au = active_units(posterior_means(model, data.test_x, data.test_y))["active_units"]
        rows.append((name, elbo["neg_elbo"], iw["iwae_nll"], au, seconds / a.epochs, history.status))
        print(f"{name}: -ELBO {elbo['neg_elbo']:.2f}  IWAE NLL (K={a.iwae_k}) {iw['iwae_nll']:.2f}  "
              f"active units {au}  {seconds / a.epochs:.1f} s/epoch", file=sys.stderr, flush=True)
    print(f"Fashion-MNIST (binarised), MLP 784-200-200-50, {a.epochs} epochs, seed {a.seed}; test split, "
          f"nats per image; {date.today().isoformat()}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print(f"| model | test -ELBO | test IWAE NLL (K={a.iwae_k}) | active units (of 50) | s / epoch |")
    print("|---|---|---|---|---|")
    for name, neg_elbo, nll, au, spe, status in rows:
        label = {"vae": "VAE", "iwae": "IWAE (K = 5)", "infovae": "InfoVAE (lambda 1000, IMQ)"}[name]
        note = "" if status == "finished" else f" ({status})"
        print(f"| {label}{note} | {neg_elbo:.2f} | {nll:.2f} | {au} | {spe:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
