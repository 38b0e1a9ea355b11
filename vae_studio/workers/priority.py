"""Background threads yield the processor to the GUI thread.

On a small machine (two cores: the GUI, training, and an encode or decode at the same moment) the operating
system shares the cores evenly, and the GUI thread waits its turn for tens of milliseconds: the window
stutters at every epoch end. A higher "nice" value for a worker thread (Linux applies it per thread) makes
the scheduler prefer the GUI thread whenever both want a core; the workers still use every core the GUI
leaves idle. Elsewhere this does nothing.
"""
from __future__ import annotations

import os
import threading

TRAINING_NICENESS = 5  # the training thread: steady, long work
TASK_NICENESS = 3  # encode, decode, metrics, data: short work a user waits for


def lower_this_thread(niceness: int) -> None:
    """Raise the calling thread's nice value by ``niceness`` (best effort; Linux only)."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:
        pass
