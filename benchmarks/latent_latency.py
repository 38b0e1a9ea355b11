"""How fast the latent explorer answers: probe drags and scatter refreshes, in the real widget offscreen.

Model: the source documents' MLP 784-400-20 at 28x28, trained for one epoch on (a subset of) Fashion-MNIST's
training split when it is installed, else on random 28x28 images (the timings do not depend on the data).

* ``encode + draw``: from selecting the run to its test split drawn in the scatter (deep copy of the decode
  model, encoding in the latent panel's TaskRunner thread, the result crossing to the GUI, ``setData`` per class,
  the repaint), for a 10,000-image test split and for 70,000 points; also the GUI thread's CPU time in it
  and the longest freeze: the longest gap between the ticks of a 2 ms timer (big scatters are drawn in
  chunks of up to 25,000 points, one per turn of the event loop, so that the window keeps answering).
  Encoding is matrix products; while the user waits, the chunks are encoded on as many threads as the
  app's torch threads leave cores for (two here: ~0.25 s for 70,000 images through the 784-400 encoder,
  0.45 s on one): it bounds this time from below.
* ``drag``: 200 hand-built mouse moves dragging the probe along a loop through the point cloud; each is
  timed from sending the move to the updated image painted (the move event is handled, the probe decoded
  on the GUI thread, the spin boxes and ``ImageItem`` updated, then ``app.processEvents()`` repaints).
  The traversal grid beside follows at its own pace (a debounced timer), and is part of the timings when
  it fires. Besides wall-clock times, the GUI thread's CPU time per move is printed: on a shared machine
  the wall-clock time also counts the time other processes held the cores. The strip of nearest test images
  (8 shown) follows every move, so it is part of these times.
* ``neighbours lookup``: the exact k-nearest query alone (the explorer's index over the means, k = 8), at the
  probe positions of a drag, for 10,000 and 70,000 points.
* ``direction slider``: 200 slider steps along a class direction (mean of class 1 minus class 0), each timed
  from the slider's new value to the probe's image painted (neighbours and the anchor's text included).

    python benchmarks/latent_latency.py [--moves 200] [--train 10000] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def load_data(n_train: int):
    from vae_studio.core.config import DataConfig
    from vae_studio.core.data import DataError, ImageData, load_dataset

    try:
        d = load_dataset(DataConfig(dataset="fashion-mnist"))
        return ImageData(d.name, d.train_x[:n_train].contiguous(), d.test_x, d.train_y[:n_train].contiguous(),
                         d.test_y, d.class_names), d
    except DataError:
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (n_train + 10000, 1, 28, 28), generator=g, dtype=torch.uint8)
        y = torch.randint(0, 10, (len(x),), generator=g)
        d = ImageData("random", x[:n_train], x[n_train:], y[:n_train], y[n_train:], [str(i) for i in range(10)])
        return d, d


def pct(values, q):
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=200)
    ap.add_argument("--train", type=int, default=10000, help="training images for the 1-epoch train")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: leave a core for the GUI)")
    args = ap.parse_args()

    import pyqtgraph as pg
    from PySide6.QtCore import QPointF, Qt, QTimer
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from vae_studio.core.checkpoint import Run
    from vae_studio.core.config import RunConfig
    from vae_studio.core.data import ImageData
    from vae_studio.core.latent import decode, to_uint8
    from vae_studio.core.training import Trainer
    from vae_studio.ui.latent.panel import LatentPanel
    from vae_studio.app.workspace import Workspace, torch_threads_for_gui

    app = QApplication.instance() or QApplication([])
    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        torch_threads_for_gui()
    pg.setConfigOptions(mouseRateLimit=-1)  # time every move (pyqtgraph otherwise drops moves < 10 ms apart)

    data, full = load_data(args.train)
    cfg = RunConfig()
    cfg.model.arch, cfg.model.hidden, cfg.model.latent_dim = "mlp", [400], 20
    cfg.train.epochs, cfg.train.batch_size = 1, 128
    t0 = time.perf_counter()
    trainer = Trainer(cfg, data)
    trainer.train()
    print(f"data: {data.name}, {len(data.train_x):,} training images; 1 epoch in {time.perf_counter() - t0:.1f} s; "
          f"torch threads: {torch.get_num_threads()}; Qt platform: {app.platformName()}")

    def new_run(name):
        return Run(config=cfg, model=trainer.model, history=trainer.history, class_names=data.class_names, name=name)

    workspace = Workspace()
    workspace.set_data(data)
    panel = LatentPanel(workspace)
    panel.resize(1280, 860)
    panel.show()
    for _ in range(5):
        app.processEvents()

    def encode_and_draw(run) -> tuple[float, float]:
        """Wall-clock ms from selecting the run to its scatter painted, and the GUI thread's CPU ms in it."""
        done = []
        panel.scatterUpdated.connect(lambda: done.append(1))  # emitted on the GUI thread by the panel
        beats = []  # a 2 ms heartbeat timer: the longest gap between beats is the longest freeze
        heart = QTimer()
        heart.setTimerType(Qt.TimerType.PreciseTimer)
        heart.timeout.connect(lambda: beats.append(time.perf_counter()))
        heart.start(2)
        c = time.thread_time()
        t = time.perf_counter()
        beats.append(t)
        workspace.add_run(run)
        while not done:
            app.processEvents()
            time.sleep(0.0005)
        app.processEvents()
        ms = 1000 * (time.perf_counter() - t)
        cpu = 1000 * (time.thread_time() - c)
        heart.stop()
        beats.append(time.perf_counter())
        panel.scatterUpdated.disconnect()
        return ms, cpu, 1000 * float(np.diff(beats).max())

    def report_encode(n_points, results):
        wall, cpu, longest = zip(*results)
        print(f"encode + draw {n_points:,} points: median {statistics.median(wall):.0f} ms "
              f"(runs: {', '.join(f'{m:.0f}' for m in wall)}); GUI thread CPU time in it: median "
              f"{statistics.median(cpu):.0f} ms; longest GUI freeze (gap between 2 ms timer ticks): median "
              f"{statistics.median(longest):.0f} ms")

    def drag_probe(moves: int) -> tuple[list[float], list[float], int]:
        plot = panel.scatter
        plot.scene().minDragTime = 0
        vb = plot.plotItem.vb
        vb.autoRange()
        app.processEvents()
        xy = plot.points()
        cx, cy = np.median(xy, 0)
        rx, ry = np.percentile(xy, 80, 0) - np.percentile(xy, 20, 0)
        panel.move_probe(cx, cy)
        app.processEvents()
        vp = plot.viewport()

        def px(x, y):
            return QPointF(plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))

        def send(kind, p, button, buttons):
            QApplication.sendEvent(vp, QMouseEvent(kind, p, QPointF(vp.mapToGlobal(p)), button, buttons,
                                                   Qt.KeyboardModifier.NoModifier))

        left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        start = px(cx, cy)
        send(QMouseEvent.Type.MouseMove, start, none, none)
        send(QMouseEvent.Type.MouseButtonPress, start, left, left)
        app.processEvents()
        times, cpu, changed = [], [], 0
        last = panel.probe_image().copy()
        for k in range(1, moves + 1):
            a = 2 * np.pi * k / moves
            p = px(cx + rx * np.sin(a), cy + ry * np.sin(2 * a) / 2)
            c = time.thread_time()
            t = time.perf_counter()
            send(QMouseEvent.Type.MouseMove, p, none, left)
            app.processEvents()
            times.append(1000 * (time.perf_counter() - t))
            cpu.append(1000 * (time.thread_time() - c))
            img = panel.probe_image()
            changed += not np.array_equal(img, last)
            last = img.copy()
        send(QMouseEvent.Type.MouseButtonRelease, p, left, none)
        app.processEvents()
        return times, cpu, changed

    def lookup_times(n_points, queries: int = 500) -> list[float]:
        """ms per nearest-neighbour query of the explorer's index, at probe positions along a drag."""
        ex = panel.explorer
        mu = ex.mu
        rng = np.random.default_rng(0)
        zs = mu[rng.integers(len(mu), size=queries)] + 0.3 * rng.standard_normal((queries, mu.shape[1])).astype(np.float32)
        for z in zs[:20]:
            ex.nearest(8, z)
        out = []
        for z in zs:
            t = time.perf_counter()
            ex.nearest(8, z)
            out.append(1000 * (time.perf_counter() - t))
        print(f"neighbours lookup, {n_points:,} points, k = 8: median {statistics.median(out):.3f} ms, "
              f"p95 {pct(out, 95):.3f} ms")
        return out

    def slider_moves(n_points, moves: int) -> None:
        """ms from a direction slider's new value to the probe's image painted."""
        view = panel.tools.directions
        panel.tools.tabs.setCurrentWidget(view)
        view.kind.setCurrentIndex(view.kind.findData("classes"))
        view.class_a.setCurrentIndex(view.class_a.findData(1))
        view.class_b.setCurrentIndex(view.class_b.findData(0))
        view.add_button.click()
        app.processEvents()
        times, cpu = [], []
        for k in range(1, moves + 1):
            value = int(round(150 * np.sin(2 * np.pi * k / moves)))
            c = time.thread_time()
            t = time.perf_counter()
            view.slider.setValue((value if value != round(view.slider.value() * 100) else value + 1) / 100)  # t
            app.processEvents()
            times.append(1000 * (time.perf_counter() - t))
            cpu.append(1000 * (time.thread_time() - c))
        view.delete_button.click()
        panel.tools.tabs.setCurrentIndex(0)
        print(f"direction slider, {n_points:,} points, {moves} moves: value -> image painted: median "
              f"{statistics.median(times):.2f} ms, p95 {pct(times, 95):.2f} ms (GUI thread CPU time: median "
              f"{statistics.median(cpu):.2f} ms)")

    def report_drag(n_points, times, cpu, changed):
        print(f"drag, {n_points:,} points, {len(times)} moves: move -> image painted: median "
              f"{statistics.median(times):.2f} ms, p95 {pct(times, 95):.2f} ms, max {max(times):.1f} ms "
              f"(GUI thread CPU time: median {statistics.median(cpu):.2f} ms, p95 {pct(cpu, 95):.2f} ms); "
              f"image changed on {changed} moves")

    report_encode(len(data.test_x), [encode_and_draw(new_run(f"run {i}")) for i in range(3)])
    drag_probe(20)  # warm-up
    report_drag(len(data.test_x), *drag_probe(args.moves))
    lookup_times(len(data.test_x))
    slider_moves(len(data.test_x), args.moves)

    z = torch.zeros(1, 20)
    dm = workspace.decode_model()
    for _ in range(20):
        to_uint8(decode(dm, z))
    t = time.perf_counter()
    for _ in range(200):
        to_uint8(decode(dm, z))
    print(f"decode one image alone: {1000 * (time.perf_counter() - t) / 200:.3f} ms")

    # 70,000 points: the whole of Fashion-MNIST (or 70,000 random images) as the "test split"
    big_x = torch.cat([full.train_x, full.test_x])[:70000]
    big_y = torch.cat([full.train_y, full.test_y])[:70000]
    big_x = big_x.repeat(-(-70000 // len(big_x)), 1, 1, 1)[:70000].contiguous()
    big_y = big_y.repeat(-(-70000 // len(big_y)))[:70000].contiguous()
    workspace.set_data(ImageData("70k", data.train_x, big_x, data.train_y, big_y, data.class_names))
    workspace.select_run(None)
    report_encode(len(big_x), [encode_and_draw(new_run(f"big {i}")) for i in range(2)])
    report_drag(len(big_x), *drag_probe(args.moves))
    lookup_times(len(big_x))
    slider_moves(len(big_x), args.moves)
    panel.close()


if __name__ == "__main__":
    main()
