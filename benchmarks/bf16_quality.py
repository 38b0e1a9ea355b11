"""Does bfloat16 autocast (``Trainer(bf16=True)``) train as well as float32? Issue 16 asks for the test -ELBO
within 0.5% after 10 epochs before it may be offered. Trains the documents' MLP (or the conv model) on
Fashion-MNIST both ways, same seed, and prints each epoch's test -ELBO, the seconds per epoch and the
relative difference at the end.

    python benchmarks/bf16_quality.py [--arch mlp] [--epochs 10] [--device cpu] [--data FOLDER]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tree this script sits in

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.training import EpochEnd, Trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mlp")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    data = load_dataset(DataConfig(dataset="fashion-mnist", root=a.data))
    hidden = [400] if a.arch == "mlp" else [256]
    print(f"{a.arch}, {a.epochs} epochs on {a.device}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}")
    results = {}
    for bf16 in (False, True):
        name = "bf16" if bf16 else "fp32"
        cfg = RunConfig(model=ModelConfig(arch=a.arch, latent_dim=20, hidden=hidden),
                        train=TrainConfig(beta=1.0, lr=1e-3, batch_size=128, epochs=a.epochs, device=a.device))
        t = Trainer(cfg, data, bf16=bf16)
        for ev in t.iter_train():
            if isinstance(ev, EpochEnd):
                r = ev.record
                print(f"  {name} epoch {r['epoch']:2d}: test -ELBO {r['test_neg_elbo']:.3f}  "
                      f"({r['train_seconds']:.2f} s)", flush=True)
        results[name] = (t.history.epochs[-1]["test_neg_elbo"],
                         statistics.median(r["train_seconds"] for r in t.history.epochs))
    (f32, s32), (b16, s16) = results["fp32"], results["bf16"]
    print(f"test -ELBO after {a.epochs} epochs: fp32 {f32:.3f}, bf16 {b16:.3f} "
          f"({100 * (b16 - f32) / f32:+.2f}%); seconds per epoch: fp32 {s32:.2f}, bf16 {s16:.2f} "
          f"({s32 / s16:.2f}x)")


if __name__ == "__main__":
    main()
