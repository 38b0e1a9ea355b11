"""Launching ``torchrun`` (and `vae-studio`) from the tests: the worktree's package, a small sprites file."""
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


def child_env() -> dict:
    """The environment of a launched job: this checkout's vae_studio, no torchrun variables of our own."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sprites_subset(path: Path, n: int = 640) -> Path:
    """``n`` images of the built-in sprites (a fixed random subset) as an .npz file: 576 train, 64 test."""
    from vae_studio.core import sprites

    spec = sprites.DEFAULT
    idx = np.sort(np.random.default_rng(0).choice(spec.count, n, replace=False))
    np.savez(path, x=sprites.render(spec, idx)[:, 0].numpy())
    return path


def tiny_flags(npz: Path, epochs: int, batch: int) -> list[str]:
    return ["--dataset", "npz", "--data-root", str(npz), "--hidden", "32", "--latent-dim", "4", "--epochs",
            str(epochs), "--batch-size", str(batch)]
