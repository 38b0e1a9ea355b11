"""Catch a broken PySide6 release: PySide6 6.12.0 on CPython 3.11 aborts ("Fatal Python error: bool_dealloc")
within a few hundred Signal.emit / pyqtgraph setData calls (PITFALLS.md). The hammering runs in a child
process so that such an abort fails this test instead of killing the test run."""
import os
import subprocess
import sys
import textwrap

ROUNDS = 5000

HAMMER = textwrap.dedent(f"""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import numpy as np
    import pyqtgraph as pg
    from PySide6.QtCore import QObject, QThread, Signal, Slot
    from PySide6.QtWidgets import QApplication

    app = QApplication([])

    class Sender(QObject):
        flag = Signal(bool)
        anything = Signal(object)
        pair = Signal(object, object)
        number = Signal(float)
        text = Signal(str)

    class Receiver(QObject):
        def __init__(self):
            super().__init__()
            self.n = 0

        @Slot(bool)
        def on_flag(self, v): self.n += 1

        @Slot(object)
        def on_anything(self, v): self.n += 1

        @Slot(object, object)
        def on_pair(self, a, b): self.n += 1

        @Slot(float)
        def on_number(self, v): self.n += 1

        @Slot(str)
        def on_text(self, v): self.n += 1

    s, r = Sender(), Receiver()
    s.flag.connect(r.on_flag)
    s.anything.connect(r.on_anything)
    s.pair.connect(r.on_pair)
    s.number.connect(r.on_number)
    s.text.connect(r.on_text)

    class Worker(QObject):  # the same signals emitted from another thread, queued to the GUI thread
        def __init__(self, sender):
            super().__init__()
            self.sender_ = sender

        @Slot()
        def run(self):
            for i in range({ROUNDS}):
                self.sender_.flag.emit(i % 2 == 0)
                self.sender_.anything.emit(None if i % 3 else {{"step": i}})
                self.sender_.pair.emit(np.arange(4.0), {{"epoch": 1}})

    plot = pg.PlotWidget()
    curve = plot.plot(pen="b")
    curve.setClipToView(True)
    curve.setDownsampling(auto=True, method="peak")
    plot.resize(400, 300)
    plot.show()
    for i in range({ROUNDS}):
        s.flag.emit(bool(i % 2))
        s.anything.emit(None)
        s.anything.emit(True)
        s.pair.emit(np.zeros((3, 4)), None)
        s.number.emit(i * 0.5)
        s.text.emit("x")
        x = np.arange(i % 200 + 2, dtype=float)
        curve.setData(x, np.sin(x), connect="finite")
        if i % 250 == 0:
            app.processEvents()
    thread = QThread()
    w = Worker(s)
    w.moveToThread(thread)
    thread.started.connect(w.run)
    thread.start()
    thread.quit()
    thread.wait()
    app.processEvents()
    expected = 6 * {ROUNDS} + 3 * {ROUNDS}
    print("ok", r.n, expected)
    sys.exit(0 if r.n == expected else 3)
""")


def test_signals_and_set_data_survive_thousands_of_calls():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", HAMMER], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert proc.stdout.split()[0] == "ok"
