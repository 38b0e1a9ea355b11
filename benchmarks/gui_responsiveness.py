"""Does the window stay responsive while a run trains on the CPU?

Opens the real main window offscreen (start-up staged exactly as ``vae-studio`` does it: torch and the
built-in sprites load in the background), then trains the default model (MLP 1024-400-10, batch 128) on the
sprites on the CPU for ``--seconds`` while a 5 ms precise QTimer measures its own lateness: every late tick
is an event-loop stall. The latent explorer and sampling panels are live too (they re-encode / re-decode at
every epoch end), so this is the window a user has. Prints start-up times, the longest and 95th/99th
percentile stall, the curve redraw rate and the training speed.

    python benchmarks/gui_responsiveness.py [--seconds 20] [--threads N] [--arch mlp|conv] [--batch 128]

Targets: longest stall under 50 ms; curves redrawn at 5 Hz or more. ``--threads`` overrides the torch thread
count the app picks (``torch_threads_for_gui``: cores - 1 on machines with up to 4 cores).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 5
START_S = 3.0  # the first seconds of a run: the latent explorer and sampling panels set up the new model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="how long to train while measuring")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: what the app picks)")
    ap.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()

    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from vae_studio.ui.app import seconds_since_process_start as since

    settings_dir = tempfile.mkdtemp(prefix="vae-studio-bench-")  # keep the user's settings out of it
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    QCoreApplication.setOrganizationName("VAE Studio benchmark")
    QCoreApplication.setApplicationName("gui_responsiveness")
    app = QApplication(sys.argv[:1])

    from vae_studio.ui.main_window import MainWindow, configure_pyqtgraph

    configure_pyqtgraph(app)
    window = MainWindow()
    window.show()
    marks = {"window shown": since()}
    panel = window.training
    window.loader.coreReady.connect(lambda _v: marks.setdefault("torch + panels ready", since()))

    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    last = [0]
    cpu = [0.0]
    busy: list[float] = []  # GUI-thread CPU time during each tick interval, ms
    at: list[float] = []  # seconds since the first losses arrived

    def tick():
        now, c = clock.nsecsElapsed(), time.thread_time()
        gaps.append((now - last[0]) / 1e6 - TICK_MS)
        at.append(now / 1e9)
        busy.append((c - cpu[0]) * 1000)
        last[0], cpu[0] = now, c

    timer.timeout.connect(tick)
    result = {}

    def start_training(_request=None):
        marks.setdefault("sprites loaded (Start enabled)", since())
        import torch

        if a.threads:
            torch.set_num_threads(a.threads)
        result["threads"] = torch.get_num_threads()
        panel.arch.setCurrentIndex(panel.arch.findData(a.arch))
        panel.batch.setValue(a.batch)
        panel.epochs.setValue(1000)
        panel.stepsReceived.connect(first_steps)
        panel.start()

    def first_steps(_run, _step):  # measure from the first losses on: the model is built, the run is on screen
        panel.stepsReceived.disconnect(first_steps)
        result["redraws0"] = panel.plot.redraws
        result["step0"] = _step
        result["t0"] = time.perf_counter()
        clock.start()
        last[0], cpu[0] = 0, time.thread_time()
        timer.start()
        QTimer.singleShot(int(a.seconds * 1000), finish)

    def finish():
        timer.stop()
        elapsed = time.perf_counter() - result["t0"]
        run = panel.workspace.runs[-1]
        result["elapsed"] = elapsed
        result["redraws"] = panel.plot.redraws - result["redraws0"]
        result["steps"] = (run.history.steps[-1][0] if run.history.steps else 0) - result["step0"]
        result["epochs"] = len(run.history.epochs)
        window.ask_about_unsaved = False  # no "save the unsaved run?" box: nobody is there to answer it
        window.close()  # stops the run (it keeps its weights) and waits for the thread
        app.quit()

    panel.dataLoaded.connect(start_training)
    app.exec()

    if "elapsed" not in result:
        print("the benchmark did not get to train (data set not loaded?)", file=sys.stderr)
        return 1
    import numpy as np

    el = result["elapsed"]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {result['threads']}; "
          f"arch {a.arch}, batch {a.batch}")
    for what, t in marks.items():
        print(f"  {what:32s} {t:6.2f} s after the process started")
    print(f"trained {el:.1f} s: {result['steps']:.0f} steps ({result['steps'] / el:.0f} steps/s), "
          f"{result['epochs']} epoch ends")
    gaps_a, busy_a, at_a = (np.asarray(v[1:]) for v in (gaps, busy, at))

    def report(title, keep):
        g = np.sort(np.maximum(gaps_a[keep], 0.0))
        print(f"{title}: longest {g[-1]:.1f} ms, p95 {np.percentile(g, 95):.1f} ms, "
              f"p99 {np.percentile(g, 99):.1f} ms, {int((g > 50).sum())} over 50 ms, {int((g > 20).sum())} over 20 ms "
              f"({len(g)} ticks)")
        long = sorted(((gap, b, t) for gap, b, t in zip(gaps_a[keep], busy_a[keep], at_a[keep]) if gap > 50),
                      reverse=True)
        if long:  # little GUI-thread CPU in a long stall: the thread waited (for a core or the GIL), not worked
            print("    stalls over 50 ms (lateness ms / GUI-thread CPU ms @ s):",
                  ", ".join(f"{gap:.0f}/{b:.0f} @{t:.1f}" for gap, b, t in long[:10]))
        return g[-1]

    print(f"event-loop stall, {TICK_MS} ms timer measuring its own lateness:")
    worst_all = report("  whole run, from the first losses", at_a >= 0)
    worst_steady = report(f"  after the first {START_S:.0f} s (new run set up in every panel)", at_a >= START_S)
    rate = result["redraws"] / el
    print(f"curve redraws: {rate:.1f} per second")
    print(f"targets (stall < 50 ms, curves >= 5 Hz): whole run {'met' if worst_all < 50 and rate >= 5 else 'NOT met'}"
          f", steady state {'met' if worst_steady < 50 and rate >= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
