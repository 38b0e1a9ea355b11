"""Seconds per training epoch: this engine against the source documents' own loop, same data and device.

The documents' configuration (MLP 784-400-20, batch 128, Adam 1e-3, beta 4, BCE summed per sample) on
Fashion-MNIST's 60,000 training images. The reference is ``../shared/bench/reference_loop.py`` run as a
separate process (mode ``seed``: the documents' DataLoader + PIL + ToTensor path). Engine time counts the
training steps only (the engine's per-epoch test evaluation is reported separately).

    python benchmarks/train_speed.py [--device cpu] [--epochs 3] [--data /usr/share/datasets/fashion-mnist]
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.data import load_dataset
from vae_studio.core.training import Trainer

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "reference_loop.py"


def engine_epoch_seconds(data_root: str, device: str, epochs: int) -> tuple[float, float, float]:
    cfg = RunConfig(data=DataConfig(dataset="fashion-mnist", root=data_root),
                    model=ModelConfig(arch="mlp", latent_dim=20, hidden=[400]),
                    train=TrainConfig(beta=4.0, lr=1e-3, batch_size=128, epochs=epochs, device=device))
    data = load_dataset(cfg.data)
    trainer = Trainer(cfg, data)
    trainer.train()
    recs = trainer.history.epochs
    train_s = statistics.median(r["train_seconds"] for r in recs)
    eval_s = statistics.median(r["seconds"] - r["train_seconds"] for r in recs)
    return train_s, eval_s, recs[-1]["train_total"]


def reference_epoch_seconds(data_root: str, device: str, mode: str, epochs: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, str(REFERENCE), data_root, device, mode, str(epochs)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"epoch_s=([\d.]+) loss=([\d.]+)", out)
    return float(m.group(1)), float(m.group(2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--modes", default="seed,tensor", help="reference modes to run (seed, tensor, graph)")
    a = ap.parse_args()
    name = torch.cuda.get_device_name() if a.device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; {a.epochs} epochs, median seconds per epoch")
    eng, ev, eng_loss = engine_epoch_seconds(a.data, a.device, a.epochs)
    print(f"engine           {eng:7.3f} s/epoch  (loss/sample {eng_loss:.2f}; test evaluation {ev:.3f} s)")
    for mode in a.modes.split(","):
        ref, ref_loss = reference_epoch_seconds(a.data, a.device, mode, a.epochs)
        print(f"reference {mode:6s} {ref:7.3f} s/epoch  (loss/sample {ref_loss:.2f})  engine is {ref / eng:.2f}x faster")


if __name__ == "__main__":
    main()
