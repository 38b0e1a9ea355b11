"""Train the demo run that ships in ``resources/demo-run/`` (opened on first launch so a new user can drag
the probe at once).

Usage: ``python scripts/make_demo_run.py [--out FOLDER] [--epochs N]`` (default ``resources/demo-run``).

A beta-VAE (beta 4, MLP, 10 latent dimensions) trained for a few epochs on the built-in sprites, on the
CPU, in about a minute; saved with :func:`vae_studio.core.checkpoint.save_run` as an ordinary run folder.
Deterministic: a fixed seed and a fixed number of CPU threads, so a rerun on the same machine and library
versions gives the same weights (the timings in history.json differ).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the checkout's vae_studio, whether or not it is installed

import torch  # noqa: E402

from vae_studio.core.checkpoint import Run, save_run  # noqa: E402
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.training import Trainer  # noqa: E402

NAME = "demo: sprites, beta 4"
THREADS = 2  # fixed: float sums depend on how work is split between threads


def demo_config(epochs: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(),  # the built-in sprites, default split
        model=ModelConfig(kind="vae", arch="mlp", latent_dim=10, hidden=[256]),
        train=TrainConfig(beta=4.0, recon="bce", lr=2e-3, batch_size=128, epochs=epochs, seed=0, device="cpu"),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "resources" / "demo-run")
    p.add_argument("--epochs", type=int, default=12)
    a = p.parse_args(argv)

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    config = demo_config(a.epochs)
    data = load_dataset(config.data)
    trainer = Trainer(config, data)
    history = trainer.train(lambda ev: print(f"epoch {ev.epoch}: test -ELBO {ev.record['test_neg_elbo']:.2f}, "
                                             f"KL {ev.record['test_kl']:.2f}", flush=True)
                            if hasattr(ev, "record") else None)
    if history.status != "finished":
        print(f"error: training did not finish: {history.message}", file=sys.stderr)
        return 1
    run = Run(config=config, model=trainer.model.cpu(), history=history, class_names=data.class_names, name=NAME)
    if a.out.exists():
        shutil.rmtree(a.out)  # a clean folder: no files left over from an older run format
    save_run(run, a.out)
    size = sum(f.stat().st_size for f in a.out.rglob("*") if f.is_file())
    print(f"saved {a.out} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
