"""Work spread over turns of the GUI thread's event loop, so that input, timers and painting come in between.

Setting a new run up in every panel, or building the panels at launch, takes tens of milliseconds per step;
done in one go, the window does not answer for the sum. :func:`next_turn` runs the next step later.

The steps wait in one queue and run one per turn, first come first served: two steps queued by the same
event (the loss plots' redraw and the explorer's set-up of a newly shown run) used to run back to back, because
Qt fires the timers that are due together. The queue's timer waits 1 ms rather than 0: a 0 ms call often ran
in the same pass of the event loop as the event that queued it (measured with a 5 ms timer: one pause of
65-106 ms at Retrain instead of separate ones of 38-53).
"""
from __future__ import annotations

from collections import deque

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer

TURN_MS = 1


class _Turns(QObject):
    """The steps waiting for a turn of the event loop."""

    def __init__(self) -> None:
        super().__init__(QCoreApplication.instance())
        self._steps: deque = deque()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TURN_MS)
        self._timer.timeout.connect(self._run_one)

    def add(self, receiver: QObject, fn) -> None:
        self._steps.append((receiver, fn))
        if not self._timer.isActive():
            self._timer.start()

    def _run_one(self) -> None:
        while self._steps:
            receiver, fn = self._steps.popleft()
            if shiboken6.isValid(receiver):
                try:
                    fn()
                finally:  # a step that raises does not stop the others
                    if self._steps:
                        # due 1 ms after this step ends, not after it began: the timers that fell due while it
                        # ran (a view's throttle, an animation) come first
                        self._timer.start()
                return


_turns: _Turns | None = None


def next_turn(receiver: QObject, fn) -> None:
    """Call ``fn()`` in a later turn of the event loop, after the steps queued before it, one step per turn;
    never if ``receiver`` is deleted first."""
    global _turns
    if _turns is None or not shiboken6.isValid(_turns):
        _turns = _Turns()
    _turns.add(receiver, fn)
