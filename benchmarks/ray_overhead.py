"""The overhead of `vae-studio sweep --engine ray` against the local engine, for the same trials.

Runs the same sweep (4 trials: beta 1,4 x seeds 0,1; a small MLP on the built-in sprites, 1 epoch) with each
engine in a fresh process and prints both wall times and their ratio. One trial per CPU, --cpus-per-trial 1.
    python benchmarks/ray_overhead.py [--epochs N]
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(engine: str, out: Path, epochs: int) -> float:
    cmd = [sys.executable, "-m", "vae_studio", "sweep", "--engine", engine, "--beta", "1,4", "--seeds", "0,1",
           "--hidden", "256", "--latent-dim", "8", "--epochs", str(epochs), "--iwae-k", "10", "--quiet",
           "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        local = sweep("local", Path(tmp) / "local", a.epochs)
        ray = sweep("ray", Path(tmp) / "ray", a.epochs)
    print(f"4 trials, {a.epochs} epoch(s): local {local:.1f} s, ray {ray:.1f} s, ratio ray/local {ray / local:.2f}")


if __name__ == "__main__":
    main()
