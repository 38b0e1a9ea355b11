"""Does the window stay responsive at the moments a user feels: launch, the click on Start, the first epoch's
end, the click on Retrain, and while a run trains?

Opens the real main window offscreen as ``vae-studio`` does on a first launch (fresh settings: torch and the
built-in sprites load in the background, then the demo run opens), clicks Start (the default MLP on the
sprites, CPU), waits for the first epoch to end, clicks Retrain a few seconds later, and trains on for
``--seconds``. A 5 ms precise QTimer, running from the moment the window is shown, measures its own
lateness: every late tick is an event-loop stall. Prints the longest stall in each phase, start-up times,
the curve redraw rate and the training speed.

    python benchmarks/gui_responsiveness.py [--seconds 10] [--threads N] [--arch mlp|conv] [--batch 128] [--retrains 1]
                                            [--trace]

``--trace`` also prints, for each stall over 40 ms, the Python calls the GUI thread ran during it
(:mod:`stall_trace`; it slows the GUI thread, so use it to find causes, not to measure).

Targets: no stall over 50 ms in any phase; curves redrawn at 5 Hz or more. ``--threads`` overrides the torch
thread count the app picks (``torch_threads_for_gui``: cores - 1 on machines with up to 4 cores).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 5
START_S = 3.0  # the first seconds of a run: the latent explorer and sampling panels set up the new model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to train after Retrain")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: what the app picks)")
    ap.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--retrain-after", type=float, default=3.0, help="seconds after the first epoch's end")
    ap.add_argument("--retrains", type=int, default=1, help="clicks on Retrain, --retrain-after seconds apart")
    ap.add_argument("--trace", action="store_true", help="print the Python calls inside each stall over 40 ms")
    a = ap.parse_args()

    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    from vae_studio.ui.app import seconds_since_process_start as since

    from bench_app import benchmark_application

    app = benchmark_application()  # as vae-studio makes it; settings in a fresh temporary folder

    from vae_studio.ui.main_window import MainWindow, configure_pyqtgraph

    configure_pyqtgraph(app)
    clock = QElapsedTimer()
    window = MainWindow()
    window.show()
    clock.start()
    marks = {"window shown": since()}
    moments: dict[str, float] = {}  # seconds on the tick clock
    panel = window.training
    window.loader.coreReady.connect(lambda _v: marks.setdefault("torch + panels ready", since()))

    gaps: list[float] = []
    at: list[float] = []
    last = [0]
    tracer, shown_pc, stalls_pc, last_pc = None, time.perf_counter(), [], [time.perf_counter()]
    if a.trace:
        from stall_trace import StallTrace

        tracer = StallTrace()
        tracer.start()

    def tick():
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6 - TICK_MS)
        at.append(now / 1e9)
        last[0] = now
        if tracer is not None:
            pc = time.perf_counter()
            stalls_pc.append((last_pc[0], pc))
            last_pc[0] = pc

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    result = {}
    retrains: list[float] = []  # the tick clock's time of each click on Retrain

    def ready(_request=None):
        marks.setdefault("sprites loaded (Start enabled)", since())
        moments["ready"] = clock.nsecsElapsed() / 1e9
        QTimer.singleShot(1500, click_start)  # the demo run opens meanwhile, as on a first launch

    def click_start():
        import torch

        if a.threads:
            torch.set_num_threads(a.threads)
        result["threads"] = torch.get_num_threads()
        panel.arch.setCurrentIndex(panel.arch.findData(a.arch))
        panel.batch.setValue(a.batch)
        panel.epochs.setValue(1000)
        panel.controller.epochEnded.connect(first_epoch)
        panel.controller.stepsReceived.connect(first_steps)
        moments["Start"] = clock.nsecsElapsed() / 1e9
        panel.start_button.click()

    def first_steps(_run, _rows):
        panel.controller.stepsReceived.disconnect(first_steps)
        marks["first losses after the click on Start"] = since()
        result["start to losses"] = clock.nsecsElapsed() / 1e9 - moments["Start"]

    def first_epoch(_run, _record):
        panel.controller.epochEnded.disconnect(first_epoch)
        moments["first epoch end"] = clock.nsecsElapsed() / 1e9
        QTimer.singleShot(int(a.retrain_after * 1000), click_retrain)

    def click_retrain():
        retrains.append(clock.nsecsElapsed() / 1e9)
        moments["Retrain"] = retrains[-1]
        result["gui cpu0"] = time.thread_time()  # the GUI thread's own CPU time (this is the GUI thread)
        result["redraws0"] = panel.plot.redraws
        panel.retrain_button.click()
        if len(retrains) < a.retrains:
            QTimer.singleShot(int(a.retrain_after * 1000), click_retrain)
        else:
            QTimer.singleShot(int(a.seconds * 1000), finish)

    def finish():
        timer.stop()
        moments["end"] = clock.nsecsElapsed() / 1e9
        result["gui cpu"] = time.thread_time() - result["gui cpu0"]
        run = panel.workspace.selected
        result["elapsed"] = moments["end"] - moments["Retrain"]
        result["redraws"] = panel.plot.redraws - result["redraws0"]
        result["steps"] = run.history.steps[-1][0] if run.history.steps else 0
        result["epochs"] = len(run.history.epochs)
        window.ask_about_unsaved = False  # no "save the unsaved run?" box: nobody is there to answer it
        window.close()  # stops the run (it keeps its weights) and waits for the thread
        app.quit()

    panel.dataLoaded.connect(ready)
    app.exec()
    if tracer is not None:
        tracer.stop()

    if "elapsed" not in result:
        print("the benchmark did not get to train (data set not loaded?)", file=sys.stderr)
        return 1
    import numpy as np

    el = result["elapsed"]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {result['threads']}; "
          f"arch {a.arch}, batch {a.batch}; {time.strftime('%Y-%m-%d %H:%M')}")
    for what, t in marks.items():
        print(f"  {what:32s} {t:6.2f} s after the process started")
    print(f"click on Start -> its first losses reach the window: {result['start to losses']:.2f} s")
    print(f"after Retrain: trained {el:.1f} s, {result['steps']:.0f} steps, {result['epochs']} epoch ends; "
          f"GUI thread busy {1000 * result['gui cpu'] / el:.0f} ms per second (its CPU time)")
    g, t = np.maximum(np.asarray(gaps[1:]), 0.0), np.asarray(at[1:])
    m = moments
    phases = [("launch (window shown -> Start enabled + 1 s)", 0.0, m["ready"] + 1.0),
              ("click on Start, 2 s", m["Start"], m["Start"] + 2.0),
              ("first epoch end, 1 s", m["first epoch end"] - 0.05, m["first epoch end"] + 1.0),
              *[(f"click on Retrain{f' #{k + 1}' if len(retrains) > 1 else ''}, 2 s", r, r + 2.0)
                for k, r in enumerate(retrains)],
              ("training after Retrain + 2 s", m["Retrain"] + 2.0, m["end"])]
    print(f"event-loop stalls ({TICK_MS} ms timer measuring its own lateness), longest / p99 / ticks over 50 ms:")
    worst = 0.0
    for name, lo, hi in phases:
        sel = g[(t >= lo) & (t < hi)]
        if len(sel) == 0:
            continue
        longest = float(sel.max())
        worst = max(worst, longest)
        when = t[(t >= lo) & (t < hi)][int(sel.argmax())]
        print(f"  {name:46s} {longest:6.1f} ms (at {when:5.2f} s)  p99 {np.percentile(sel, 99):5.1f} ms  "
              f"{int((sel > 50).sum())} over 50 ms")
    rate = result["redraws"] / el
    print(f"curve redraws: {rate:.1f} per second")
    if tracer is not None:
        tracer.report(stalls_pc, origin=shown_pc)
    print(f"targets (every phase's longest stall < 50 ms, curves >= 5 Hz): {'met' if worst < 50 and rate >= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
