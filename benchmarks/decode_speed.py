"""Milliseconds to decode and display prior grids and an interpolation, on every device present.

Models: the source documents' MLP 784-400-20 and the convolutional model (fc 256, 20 latent dimensions),
both at 28x28, untrained (decoding time does not depend on the weights). For each device (the CPU, and
CUDA when torch finds it) the median over ``--repeats`` runs, after warm-up, of (core, every time includes
the copy of the images back to the CPU):

* ``probe``: one latent point decoded (what dragging the probe costs);
* ``decode 8x8``: 64 prior samples decoded (``core.latent.sample_prior``);
* ``decode interp``: a 10-step slerp between two latents decoded;
* ``decode 32x32``: 1,024 prior samples decoded.

and, where PySide6 is installed (not with ``--core-only``), of the GUI around them:

* ``decode 8x8``: 64 prior samples decoded (``core.latent.sample_prior``, result on the CPU);
* ``panel 8x8``: the sampling canvas redrawing its 8x8 grid for a new seed (decode + make_grid + ImageItem)
  and repainting the grid view;
* ``decode interp``: a 10-step slerp between two latents decoded;
* ``panel interp``: the canvas recomputing its 10-step interpolation (encode A and B, decode, strip,
  animation frame) and repainting the strip;
* ``32x32 worker``: a 1,024-image grid from the request to the picture shown, decoded in the background
  thread (``DecodeWorker``) while the GUI stays free.

The CPU uses as many torch threads as the GUI does (``workspace.torch_threads_for_gui``: one core is left
for the GUI on machines with up to four cores) unless ``--threads`` says otherwise.

    python benchmarks/decode_speed.py [--repeats 20] [--devices cpu,cuda] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # time the tree this script sits in

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vae_studio.core.checkpoint import Run  # noqa: E402
from vae_studio.core.config import RunConfig  # noqa: E402
from vae_studio.core.data import ImageData  # noqa: E402
from vae_studio.core.latent import decode, sample_prior, slerp  # noqa: E402
from vae_studio.core.models import build_model  # noqa: E402

MODELS = {"mlp 784-400-20": ("mlp", [400]), "conv (fc 256) -20": ("conv", [256])}


def device_name(dev: str) -> str:
    if dev.startswith("cuda"):
        return f"{dev} ({torch.cuda.get_device_name(torch.device(dev))})"
    return f"cpu ({torch.get_num_threads()} threads)"


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()``; ``fn`` must finish its device work (a ``.cpu()`` copy does)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def make_run(arch: str, hidden: list[int]) -> Run:
    c = RunConfig()
    c.model.arch, c.model.hidden, c.model.latent_dim, c.model.image_size = arch, hidden, 20, 28
    c.validate()
    return Run(config=c, model=build_model(c.model, seed=0), name=f"{arch}")


def bench_core(dev: str, repeats: int) -> None:
    """Decoding alone, on ``dev``, images copied back to the CPU."""
    print(f"\ndevice: {device_name(dev)} (core: decode + copy back)")
    print(f"  {'model':20s} {'probe':>8s} {'decode 8x8':>11s} {'decode interp':>14s} {'decode 32x32':>13s}   "
          f"(ms, median of {repeats})")
    z = np.random.default_rng(0).standard_normal((2, 20)).astype(np.float32)
    for title, (arch, hidden) in MODELS.items():
        model = make_run(arch, hidden).model.to(dev).eval()
        probe = median_ms(lambda: decode(model, z[:1]), repeats)
        grid = median_ms(lambda: sample_prior(model, 64, 1.0, 0), repeats)
        interp = median_ms(lambda: decode(model, slerp(z[0], z[1], 10)), repeats)
        big = median_ms(lambda: sample_prior(model, 1024, 1.0, 0), repeats)
        print(f"  {title:20s} {probe:8.2f} {grid:11.2f} {interp:14.2f} {big:13.2f}", flush=True)


def bench_device(app, dev: str, repeats: int) -> None:
    from vae_studio.ui.sampling.panel import SamplingPanel
    from vae_studio.app.workspace import Workspace

    g = torch.Generator().manual_seed(0)
    data = ImageData("bench", torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g),
                     torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=g))
    print(f"\ndevice: {device_name(dev)} (GUI: sampling canvas)")
    print(f"  {'model':20s} {'decode 8x8':>11s} {'panel 8x8':>10s} {'decode interp':>14s} {'panel interp':>13s} "
          f"{'32x32 worker':>13s}   (ms, median of {repeats})")
    for title, (arch, hidden) in MODELS.items():
        workspace = Workspace()
        workspace.set_decode_device(dev)
        panel = SamplingPanel(workspace)
        panel.resize(1300, 760)
        panel.show()
        workspace.set_data(data)
        workspace.add_run(make_run(arch, hidden))
        app.processEvents()
        model = workspace.decode_model()
        seeds = iter(range(1, 10**6))

        dec_grid = median_ms(lambda: sample_prior(model, 64, 1.0, 0), repeats)

        def panel_grid():
            panel.seed.setValue(next(seeds))
            panel.grid.view.viewport().repaint()

        pan_grid = median_ms(panel_grid, repeats)
        z = np.random.default_rng(0).standard_normal((2, 20)).astype(np.float32)
        dec_interp = median_ms(lambda: decode(model, slerp(z[0], z[1], 10)), repeats)

        def panel_interp():
            panel.interp.refresh()
            panel.interp.strip.view.viewport().repaint()

        pan_interp = median_ms(panel_interp, repeats)

        def worker_grid():
            panel.set_grid_side(32)
            panel.seed.setValue(next(seeds))
            while panel.decoder.busy:  # the GUI thread stays free: it only processes events meanwhile
                app.processEvents()
                time.sleep(0.0005)
            panel.grid.view.viewport().repaint()

        big = median_ms(worker_grid, max(3, repeats // 4), warmup=1)
        print(f"  {title:20s} {dec_grid:11.2f} {pan_grid:10.2f} {dec_interp:14.2f} {pan_interp:13.2f} {big:13.1f}")
        panel.shutdown()
        panel.close()
        panel.deleteLater()
        app.processEvents()


def has_gui() -> bool:
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--devices", default="", help="comma-separated (default: cpu, and cuda when available)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (default: what the GUI uses, workspace.torch_threads_for_gui)")
    ap.add_argument("--core-only", action="store_true", help="decoding alone, without the GUI (PySide6)")
    a = ap.parse_args()
    gui = not a.core_only and has_gui()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    elif gui:
        from vae_studio.app.workspace import torch_threads_for_gui

        torch_threads_for_gui()
    devices = a.devices.split(",") if a.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}; 28x28 images, 20 latent dimensions; {time.strftime('%Y-%m-%d %H:%M')}"
          + ("" if gui else "; GUI part skipped (no PySide6 or --core-only)"))
    for dev in devices:
        bench_core(dev, a.repeats)
    if not gui:
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"Qt platform {app.platformName()}")
    for dev in devices:
        bench_device(app, dev, a.repeats)


if __name__ == "__main__":
    main()
