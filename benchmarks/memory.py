"""How much memory does the app hold with a 70,000-point scatter in the latent explorer and a run training?

Opens the real main window offscreen (fresh settings, as a first launch), loads Fashion-MNIST (from
/usr/share/datasets/fashion-mnist or wherever the data loader finds it), makes its test split the whole
70,000 images (train + test, as ``latent_latency.py`` does), clicks Start (the default MLP, CPU), waits for
the first epoch's end (the explorer then encodes and draws the 70,000 points) and trains on for
``--seconds``. Prints the resident memory (VmRSS of /proc/self/status; psutil's if /proc is missing) at each
stage, its peak (VmHWM), and what the big parts weigh.

    python benchmarks/memory.py [--seconds 10]

Target: under 1.5 GB resident.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MB = 1024 * 1024


def memory() -> tuple[float, float]:
    """(resident, peak resident) in MB."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        import psutil  # optional: only where /proc is missing

        info = psutil.Process().memory_info()
        return info.rss / MB, getattr(info, "peak_wset", info.rss) / MB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to train after the scatter is drawn")
    a = ap.parse_args()

    from PySide6.QtCore import QTimer

    from bench_app import benchmark_application

    app = benchmark_application()  # as vae-studio makes it; settings in a fresh temporary folder
    stages: list[tuple[str, float]] = []
    samples: list[float] = []

    def mark(what: str) -> None:
        stages.append((what, memory()[0]))

    mark("Qt application")
    from vae_studio.ui.main_window import MainWindow, configure_pyqtgraph

    configure_pyqtgraph(app)
    window = MainWindow()
    window.show()
    mark("window shown")
    panel = window.training
    state: dict = {}

    sampler = QTimer()
    sampler.timeout.connect(lambda: samples.append(memory()[0]))
    sampler.start(100)

    def sprites_loaded(_request):
        panel.dataLoaded.disconnect(sprites_loaded)
        mark("torch, panels and the built-in sprites loaded")
        from vae_studio.core.config import DataConfig

        panel.dataLoaded.connect(fashion_loaded)
        panel.load_data(DataConfig(dataset="fashion-mnist"))

    def fashion_loaded(_request):
        panel.dataLoaded.disconnect(fashion_loaded)
        import torch

        from vae_studio.core.data import ImageData

        d = window.workspace.data
        big_x = torch.cat([d.train_x, d.test_x]).contiguous()
        big_y = torch.cat([d.train_y, d.test_y]).contiguous()
        window.workspace.set_data(ImageData(d.name, d.train_x, big_x, d.train_y, big_y, d.class_names))
        state["data"] = window.workspace.data
        mark(f"Fashion-MNIST loaded ({len(d.train_x):,} train, {len(big_x):,} test images)")
        panel.epochs.setValue(1000)
        panel.controller.epochEnded.connect(first_epoch)
        panel.start_button.click()

    def first_epoch(_run, _record):
        panel.controller.epochEnded.disconnect(first_epoch)
        mark("first epoch ended")
        window.latent_panel.scatterUpdated.connect(scatter_drawn)

    def scatter_drawn():
        window.latent_panel.scatterUpdated.disconnect(scatter_drawn)
        state["points"] = window.latent_panel.scatter.point_count()
        mark(f"{state['points']:,} points drawn in the explorer, training")
        state["from"] = len(samples)
        QTimer.singleShot(int(a.seconds * 1000), finish)

    def finish():
        sampler.stop()
        mark(f"after {a.seconds:.0f} s more training")
        state["run"] = window.workspace.selected
        window.ask_about_unsaved = False
        window.close()
        app.quit()

    panel.dataLoaded.connect(sprites_loaded)
    QTimer.singleShot(180_000, app.quit)  # give up after 3 minutes (no data set?)
    app.exec()
    if "points" not in state:
        print("the benchmark did not get to draw the scatter (Fashion-MNIST not found?)", file=sys.stderr)
        return 1

    import numpy as np

    data = state["data"]
    run = state["run"]
    training = samples[state["from"]:]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; resident memory (VmRSS):")
    for what, mb in stages:
        print(f"  {what:58s} {mb:7.0f} MB")
    print(f"  while training with the scatter shown: median {np.median(training):.0f} MB, max {max(training):.0f} MB; "
          f"peak of the process (VmHWM) {memory()[1]:.0f} MB")
    images = sum(t.numel() * t.element_size() for t in (data.train_x, data.test_x))
    params = sum(p.numel() * p.element_size() for p in run.model.parameters())
    latents = 2 * state["points"] * run.config.model.latent_dim * 4
    print(f"parts: images held (uint8) {images / MB:.0f} MB; model parameters {params / MB:.1f} MB; "
          f"the explorer's means and log-variances {latents / MB:.0f} MB")
    peak = max(max(training), memory()[1])
    print(f"target (under 1.5 GB resident): {'met' if peak < 1536 else 'NOT met'} (peak {peak:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
