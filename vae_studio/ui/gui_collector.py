"""Python's cycle collector, run from the GUI thread's event loop only.

Automatic collection is switched off and pyqtgraph's ``GarbageCollector`` collects by the same thresholds
from a timer in the GUI thread. Otherwise a collection that happens to start in a worker thread (building a
model, say) destroys Qt objects there and can deadlock with the GUI thread (seen: ~QObject in the training
thread waiting for the interpreter lock while the GUI thread, holding it, waits for the same object's Qt
mutex). While a background import runs, collections are held (see :func:`hold_collection`).
"""
from __future__ import annotations

import gc

CHECK_SECONDS = 0.05  # small collections often: one check every 0.5 s scanned half a second of allocations

_collector = None


def collect_garbage_in_gui_thread(interval: float = CHECK_SECONDS):
    """From now on the cycle collector runs only in the GUI thread (see the module's notes). Idempotent;
    returns the collector."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval)
    return _collector


def hold_collection(held: bool) -> None:
    """Hold the GUI thread's cycle collections while a background import creates its modules' long-lived
    objects (each collection scanned them: 35-50 ms pauses of the window at launch and at the first Start);
    when the import ends, those objects are frozen out of every later collection and collections resume."""
    collector = collect_garbage_in_gui_thread()
    if held:
        collector.timer.stop()
    else:
        gc.freeze()
        collector.timer.start()
