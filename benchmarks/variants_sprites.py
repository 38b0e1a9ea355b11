"""The disentangling variants on the built-in sprites (factors known): beta-VAE (beta 1 and 4), beta-TCVAE,
FactorVAE, DIP-VAE (and capacity-vae where it is registered), the same network, data, epochs and seeds each.
Prints one Markdown table of mean +- standard deviation over the seeds: test -ELBO (and its reconstruction
and KL), active units, MIG and FactorVAE score, as ``vae_studio.core.metrics.evaluate_run`` computes them.

    python benchmarks/variants_sprites.py [--epochs 4] [--seeds 0,1,2] [--threads 1] [--json OUT.json]

Protocol: the MLP of the README (1024-400-10, hidden layer 400, latent 10), Adam lr 1e-3, batch 128, BCE, no
KL warm-up, on the sprites' 90 % training split (41,472 images); scores on the test split (4,608 images)
except MIG and the FactorVAE score, which use the posterior means of 10,000 images drawn (seed 0) from both
splits. MIG: disentanglement_lib's discrete MIG (20-bin histogram per code dimension, mutual information with
each of the 5 factors, gap between the two best dimensions over the factor's entropy, mean over factors).
FactorVAE score: disentanglement_lib's (batch 64, 10,000 training and 5,000 evaluation votes, dimensions
with global std < 0.05 pruned; evaluation accuracy).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tree this script sits in

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.metrics import evaluate_run  # noqa: E402
from vae_studio.core.training import Trainer  # noqa: E402
from vae_studio.core.variants import VARIANTS  # noqa: E402

# (row label, variant, run beta, settings): the papers' settings, except FactorVAE's discriminator, 6 layers of
# 256 rather than of 1000 (the paper's is 15x the VAE's cost per step on a CPU)
MODELS = [
    ("beta-VAE, beta 1", "vae", 1.0, {}),
    ("beta-VAE, beta 4", "vae", 4.0, {}),
    ("beta-TCVAE (alpha 1, beta 6, gamma 1, MSS)", "beta-tcvae", 1.0, {}),
    ("FactorVAE (gamma 6.4, D 6x256)", "factorvae", 1.0, {"tc_weight": 6.4, "disc_hidden": 256}),
    ("DIP-VAE-I (lambda_od 10, lambda_d 100)", "dip-vae", 1.0, {"dip_type": "i"}),
    ("capacity-vae (its defaults)", "capacity-vae", 1.0, {}),
]
COLUMNS = [("neg_elbo", "test -ELBO", 1), ("recon", "recon", 1), ("kl", "KL", 2),
           ("active_units", "active units", 1), ("mig", "MIG", 3), ("factorvae", "FactorVAE score", 3)]


def run_one(data, kind: str, beta: float, settings: dict, epochs: int, seed: int) -> dict:
    cfg = RunConfig(data=DataConfig(dataset="sprites"),
                    model=ModelConfig(kind=kind, arch="mlp", hidden=[400], latent_dim=10, settings=dict(settings)),
                    train=TrainConfig(beta=beta, lr=1e-3, batch_size=128, epochs=epochs, seed=seed, recon="bce"))
    t0 = time.perf_counter()
    trainer = Trainer(cfg, data)
    history = trainer.train()
    seconds = time.perf_counter() - t0
    if history.status != "finished":
        raise RuntimeError(f"{kind} seed {seed}: {history.status}: {history.message}")
    res = evaluate_run(trainer.model, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=0, seed=0)
    out = {k: res[k] for k, _, _ in COLUMNS}
    out["train_seconds"] = seconds
    out.update({f"test_{t}": history.last[f"test_{t}"] for t in trainer.objective.terms})
    return out


def cell(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} +- {sd:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    ap.add_argument("--json", help="also write every run's numbers here")
    ap.add_argument("--models", default="", help="comma-separated variant names to run (default: all of the table)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",")]
    data = load_dataset(DataConfig(dataset="sprites"))
    wanted = set(filter(None, a.models.split(",")))
    models = [m for m in MODELS if m[1] in VARIANTS and (not wanted or m[1] in wanted)]
    print(f"sprites, MLP 400, latent 10, batch 128, lr 1e-3, BCE, {a.epochs} epochs, seeds {seeds}; "
          f"{platform.processor() or platform.machine()}, {a.threads} torch thread(s), torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    results: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    for label, kind, beta, settings in models:
        for seed in seeds:
            r = run_one(data, kind, beta, settings, a.epochs, seed)
            results.setdefault(label, []).append(r)
            own = ", ".join(f"{k[5:]} {v:.3g}" for k, v in r.items() if k.startswith("test_"))
            print(f"  {label}, seed {seed}: -ELBO {r['neg_elbo']:.1f}, AU {r['active_units']}, MIG {r['mig']:.3f}, "
                  f"FactorVAE {r['factorvae']:.3f}, {r['train_seconds']:.0f} s{'; ' + own if own else ''}",
                  flush=True)
    print(f"\nall runs: {time.perf_counter() - t0:.0f} s\n")
    print("| model | " + " | ".join(h for _, h, _ in COLUMNS) + " | train s / run |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for label, runs in results.items():
        cells = [cell([float(r[k]) for r in runs], d) for k, _, d in COLUMNS]
        secs = statistics.fmean(r["train_seconds"] for r in runs)
        print(f"| {label} | " + " | ".join(cells) + f" | {secs:.0f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"epochs": a.epochs, "seeds": seeds, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
