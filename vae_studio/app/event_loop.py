"""Work spread over turns of the GUI thread's event loop, so that input, timers and painting come in between.

Setting a new run up in every panel, or building the panels at launch, takes tens of milliseconds per step;
done in one go, the window does not answer for the sum. :func:`next_turn` runs the next step later. It uses a
1 ms timer rather than a 0 ms call: a 0 ms call often ran in the same pass of the event loop as the event that
queued it (measured with a 5 ms timer: one pause of 65-106 ms at Retrain instead of separate ones of 38-53).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

TURN_MS = 1


def next_turn(receiver: QObject, fn) -> None:
    """Call ``fn()`` in a later turn of the event loop; never if ``receiver`` is deleted first."""
    QTimer.singleShot(TURN_MS, receiver, fn)
