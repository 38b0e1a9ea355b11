"""Seconds per training epoch: the engine against the matrix-product floor and the documents' own loop.

Models (28x28 Fashion-MNIST, 60,000 training images, batch 128, Adam 1e-3, beta 4, BCE summed per sample):
``mlp`` is the documents' MLP 784-400-20; ``conv`` the convolutional model (two stride-2 convolutions 32/64,
fc 256, 20 latent dimensions).

* **floor**: the time the model's matrix products alone take per epoch on this device, measured in the same
  run: every product of the forward pass (linear layers; convolutions as their im2col products) and of the
  backward pass (input and weight gradients: 3x the forward FLOPs, less the input gradient of the first
  layer, which nothing needs) is timed as a ``torch.matmul`` at its own shape and batch size, and summed
  over an epoch's steps. The engine's ratio to it says how much time goes to everything else.
* **engine**: ``Trainer`` steps only (its per-epoch test evaluation is shown apart); on CUDA both its eager
  path and its CUDA-graph path (the default); with ``--bf16`` also under bfloat16 autocast (an option; its
  quality: benchmarks/bf16_quality.py).
* **reference MODE**: ``reference_loop.py`` (the documents' loop, MLP only) run as a separate process:
  ``seed`` (the documents' DataLoader + PIL + ToTensor path), ``tensor`` (the whole data set as one tensor on
  the device), ``graph`` (``tensor`` with the step captured as a CUDA graph; CUDA only).

Median seconds per epoch over ``--epochs`` epochs (the first one includes warm-up and graph capture).

    python benchmarks/train_speed.py [--device cpu|cuda] [--arch mlp,conv] [--epochs 3]
        [--modes seed,tensor,graph] [--data /usr/share/datasets/fashion-mnist] [--reference PATH] [--bf16]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # time the tree this script sits in, not an installed copy

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_studio.core.data import load_dataset  # noqa: E402
from vae_studio.core.models import build_model  # noqa: E402
from vae_studio.core.training import Trainer  # noqa: E402

REFERENCES = (ROOT.parent / "shared" / "bench" / "reference_loop.py", ROOT / ".gpu_carry" / "reference_loop.py")
ARCHS = {"mlp": ModelConfig(arch="mlp", latent_dim=20, hidden=[400]),
         "conv": ModelConfig(arch="conv", latent_dim=20, hidden=[256])}
BATCH = 128


def config(arch: str, data_root: str, device: str, epochs: int) -> RunConfig:
    m = ARCHS[arch]
    return RunConfig(data=DataConfig(dataset="fashion-mnist", root=data_root),
                     model=ModelConfig(arch=m.arch, latent_dim=m.latent_dim, hidden=list(m.hidden)),
                     train=TrainConfig(beta=4.0, lr=1e-3, batch_size=BATCH, epochs=epochs, device=device))


# ------------------------------------------------------------------------------------------------ the floor


def matmul_shapes(model: torch.nn.Module, batch: int, image_size: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one training step, forward and backward: per layer the forward
    product, the weight gradient and (except for the first layer) the input gradient."""
    shapes: list[tuple[int, int, int]] = []
    size = image_size

    def layer(m_: int, k: int, n: int) -> None:
        first = not shapes
        shapes.append((m_, k, n))  # forward: (m x k) @ (k x n)
        shapes.append((k, m_, n))  # weight gradient: (k x m) @ (m x n)
        if not first:
            shapes.append((m_, n, k))  # input gradient: (m x n) @ (n x k)

    for mod in model.encoder.modules():  # encoder, in order
        if isinstance(mod, torch.nn.Conv2d):
            size = (size + 2 * mod.padding[0] - mod.kernel_size[0]) // mod.stride[0] + 1
            layer(batch * size * size, mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1], mod.out_channels)
        elif isinstance(mod, torch.nn.Linear):
            layer(batch, mod.in_features, mod.out_features)
    layer(batch, model.to_stats.in_features, model.to_stats.out_features)
    size = image_size // 4
    for mod in model.decoder.modules():
        if isinstance(mod, torch.nn.Linear):
            layer(batch, mod.in_features, mod.out_features)
        elif isinstance(mod, torch.nn.ConvTranspose2d):  # col2im form: (B*H*W x Cin) @ (Cin x Cout*k*k)
            layer(batch * size * size, mod.in_channels, mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1])
            size *= mod.stride[0]
    return shapes


def time_matmul(m: int, k: int, n: int, device: torch.device, repeats: int = 30) -> float:
    a, b = torch.rand(m, k, device=device), torch.rand(k, n, device=device)
    out = torch.empty(m, n, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(5):
        torch.matmul(a, b, out=out)
    times = []
    for _ in range(7):  # the best of 7 bursts: a floor, and other processes on the machine only slow it down
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b, out=out)
        sync()
        times.append((time.perf_counter() - t0) / repeats)
    return min(times)


def floor(arch: str, n: int, device: torch.device, passes: int = 2) -> tuple[float, float]:
    """(seconds, GFLOP) of an epoch's matrix products: the best of ``passes`` measurements (the first one in a
    process is often slow while the BLAS library and its threads warm up)."""
    return min(_floor_once(arch, n, device) for _ in range(passes))


def _floor_once(arch: str, n: int, device: torch.device) -> tuple[float, float]:
    cfg = ARCHS[arch]
    c = ModelConfig(arch=cfg.arch, latent_dim=cfg.latent_dim, hidden=list(cfg.hidden), image_size=28)
    model = build_model(c, seed=0)
    full, rest = divmod(n, BATCH)
    seconds = flops = 0.0
    for batch, count in ((BATCH, full), (rest, 1 if rest else 0)):
        if not count:
            continue
        for m_, k, n_ in matmul_shapes(model, batch, 28):
            seconds += count * time_matmul(m_, k, n_, device)
            flops += count * 2.0 * m_ * k * n_
    return seconds, flops / 1e9


# ------------------------------------------------------------------------------------------------ runs


def engine_epoch_seconds(cfg: RunConfig, data, **trainer_kw) -> tuple[float, float, float, str]:
    trainer = Trainer(cfg, data, **trainer_kw)
    trainer.train()
    recs = trainer.history.epochs
    train_s = statistics.median(r["train_seconds"] for r in recs)
    eval_s = statistics.median(r["seconds"] - r["train_seconds"] for r in recs)
    how = "CUDA graph" if trainer.graphed else ("eager" + (f"; {trainer.graph_note}" if trainer.graph_note else ""))
    return train_s, eval_s, recs[-1]["train_total"], how


def reference_epoch_seconds(script: Path, data_root: str, device: str, mode: str, epochs: int,
                            timeout: float) -> tuple[float, float]:
    out = subprocess.run([sys.executable, str(script), data_root, device, mode, str(epochs)],
                         capture_output=True, text=True, check=True, timeout=timeout).stdout
    m = re.search(r"epoch_s=([\d.]+) loss=([\d.]+)", out)
    return float(m.group(1)), float(m.group(2))


def find_reference(given: str | None) -> Path | None:
    if given:
        return Path(given)
    return next((p for p in REFERENCES if p.exists()), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", default="mlp", help="comma-separated: mlp, conv")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("VAE_STUDIO_FASHION", "/usr/share/datasets/fashion-mnist"),
                    help="folder of Fashion-MNIST IDX files (plain or .gz)")
    ap.add_argument("--modes", default="seed,tensor", help="reference modes to run (seed, tensor, graph; '' none)")
    ap.add_argument("--reference", default=None, help="reference_loop.py (default: ../shared/bench or .gpu_carry)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--reference-timeout", type=float, default=600.0, help="seconds per reference run")
    ap.add_argument("--bf16", action="store_true", help="also time the engine under bfloat16 autocast")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        name = f"{torch.cuda.get_device_name(dev)}; CUDA {torch.version.cuda}"
    else:
        name = f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; {a.epochs} epochs, median seconds per epoch; "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    data = load_dataset(config("mlp", a.data, a.device, 1).data)
    n = len(data.train_x)
    modes = [m for m in a.modes.split(",") if m]
    reference = find_reference(a.reference) if modes else None
    for arch in a.arch.split(","):
        fl_s, gflop = floor(arch, n, dev)
        print(f"\n[{arch}] {n} images, batch {BATCH}: {gflop:.0f} GFLOP of matrix products per epoch "
              f"(forward + backward); matmul floor {fl_s:.3f} s/epoch ({gflop / fl_s:.0f} GFLOP/s)", flush=True)
        variants = [("engine", {})]
        if dev.type == "cuda":
            variants = [("engine graph", {}), ("engine eager", {"cuda_graph": False})]
        if a.bf16:
            variants.append(("engine bf16", {"bf16": True}))
        default_s = None  # seconds per epoch of the default engine
        for label, kw in variants:
            eng, ev, loss, how = engine_epoch_seconds(config(arch, a.data, a.device, a.epochs), data, **kw)
            if default_s is None:  # the default engine (the graph path on CUDA) is what the references are held to
                default_s = eng
            print(f"  {label:16s} {eng:7.3f} s/epoch  {eng / fl_s:5.2f}x the floor  (loss/sample {loss:.2f}; "
                  f"{how}; test evaluation {ev:.3f} s)", flush=True)
        if arch != "mlp" or not modes:
            continue
        if reference is None or not reference.exists():
            print(f"  reference loop not found ({a.reference or ', '.join(map(str, REFERENCES))}): skipped")
            continue
        for mode in modes:
            if mode == "graph" and dev.type != "cuda":
                print("  reference graph  (CUDA only): skipped")
                continue
            try:
                ref, ref_loss = reference_epoch_seconds(reference, a.data, a.device, mode, a.epochs,
                                                        a.reference_timeout)
            except (subprocess.SubprocessError, AttributeError) as e:
                print(f"  reference {mode:6s} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
                continue
            print(f"  reference {mode:6s} {ref:7.3f} s/epoch  {ref / fl_s:5.2f}x the floor  (loss/sample "
                  f"{ref_loss:.2f})  engine is {ref / default_s:.2f}x faster", flush=True)


if __name__ == "__main__":
    main()
