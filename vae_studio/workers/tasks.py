"""One background-task API: plain task functions run by a :class:`TaskRunner` on its own thread.

A task is a plain function ``fn(state, *args) -> result`` (Orange's ``TaskState`` shape): it polls
``state.is_cancelled()`` between chunks of work (returning or raising early when it is), and may report
``state.set_progress(fraction)``, ``state.set_status(text)`` and ``state.set_partial_result(value)`` (a
plain Python or NumPy value the GUI shows while the task goes on, e.g. one record per epoch). It knows nothing of Qt, so it is unit-tested
with a fake state and no thread.

A :class:`TaskRunner` owns ONE ``QThread`` (started on the first submit) and runs its tasks one at a time:

- ``LATEST`` mode (latest request wins): a new submit cancels the running task (it stops at its next
  ``is_cancelled()`` check) and replaces the pending one, so a burst of requests costs at most one
  computation beyond the newest; only the newest ticket's result is delivered.
- ``QUEUE`` mode: tasks run in submission order; :meth:`TaskRunner.cancel` drops those submitted with a key.

Signals arrive in the runner's (GUI) thread; connect them to ``@Slot`` methods, never to lambdas.
``done(ticket, result)`` or ``failed(ticket, message)`` (one line) ends every task that was not cancelled;
the results of cancelled tasks are dropped. ``progress`` is throttled to ``PROGRESS_INTERVAL``.
:meth:`TaskRunner.shutdown` (stop flag, ``quit()``, ``wait()``) is final and idempotent. A
:class:`TaskHub` creates runners and shuts them all down at once (the main window owns one).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from functools import partial
from dataclasses import dataclass, field
from enum import Enum

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from .priority import TASK_NICENESS, lower_this_thread

PROGRESS_INTERVAL = 0.1  # seconds between two progress signals of a task (~10 Hz)


class Mode(Enum):
    LATEST = "latest"  # a new submit cancels the running task and replaces the pending one
    QUEUE = "queue"  # first in, first out; cancel(key) drops tasks


def one_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class TaskState:
    """What a task function sees of the runner: cancellation, progress and status (thread-safe)."""

    def __init__(self, ticket: int = 0, emitter: _Worker | None = None, interval: float = PROGRESS_INTERVAL):
        self.ticket = ticket
        self._cancelled = threading.Event()
        self._emitter = emitter
        self._interval = interval
        self._last_progress = -float("inf")
        self._status = ""

    def is_cancelled(self) -> bool:
        """True once a newer request, ``cancel`` or ``shutdown`` asked this task to stop: return (or raise) soon."""
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def set_progress(self, fraction: float) -> None:
        """Report progress in [0, 1]; emitted at most every ``PROGRESS_INTERVAL`` seconds."""
        now = time.monotonic()
        if self._emitter is None or now - self._last_progress < self._interval or self.is_cancelled():
            return
        self._last_progress = now
        self._emitter.progress.emit(self.ticket, min(1.0, max(0.0, float(fraction))))

    def set_status(self, text: str) -> None:
        """Report what the task is doing (a short sentence); emitted when it changes."""
        if self._emitter is None or text == self._status or self.is_cancelled():
            return
        self._status = text
        self._emitter.status.emit(self.ticket, str(text))

    def set_partial_result(self, value) -> None:
        """Hand the GUI an intermediate result (not throttled: call it at a pace of your own, e.g. per epoch)."""
        if self._emitter is None or self.is_cancelled():
            return
        self._emitter.partial.emit(self.ticket, value)


@dataclass(eq=False)  # compared by identity (the queue's remove): args may be arrays
class _Task:
    ticket: int
    key: object
    fn: object
    args: tuple
    state: TaskState = field(repr=False)


class _Worker(QObject):
    """Lives in the runner's thread; its ``run`` loop takes tasks from the queue until stopped."""

    started = Signal(int)
    done = Signal(int, object)
    failed = Signal(int, str)
    dropped = Signal(int)  # the task ended cancelled: its result (or error) is not delivered
    progress = Signal(int, float)
    status = Signal(int, str)
    partial = Signal(int, object)

    def __init__(self):
        super().__init__()
        self.queue: deque[_Task] = deque()
        self.lock = threading.Condition()
        self.stopping = False
        self.current: _Task | None = None

    @Slot()
    def run(self) -> None:
        lower_this_thread(TASK_NICENESS)  # the GUI thread comes first when both want a core
        while True:
            with self.lock:
                self.current = None
                while not self.queue and not self.stopping:
                    self.lock.wait()
                if self.stopping:
                    return
                task = self.current = self.queue.popleft()
            self._run_one(task)

    def _run_one(self, task: _Task) -> None:
        if task.state.is_cancelled():
            self.dropped.emit(task.ticket)
            return
        self.started.emit(task.ticket)
        try:
            result = task.fn(task.state, *task.args)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead thread
            if task.state.is_cancelled():
                self.dropped.emit(task.ticket)
            else:
                self.failed.emit(task.ticket, one_line(e))
            return
        if task.state.is_cancelled():
            self.dropped.emit(task.ticket)
        else:
            self.done.emit(task.ticket, result)


class TaskRunner(QObject):
    """Runs submitted ``fn(state, *args)`` calls one at a time on its own thread (see the module's notes)."""

    started = Signal(int)  # ticket: the task began (a skipped, cancelled task never starts)
    done = Signal(int, object)  # ticket, the function's result
    failed = Signal(int, str)  # ticket, a one-line message
    progress = Signal(int, float)  # ticket, fraction in [0, 1] (throttled)
    status = Signal(int, str)  # ticket, what the task is doing
    partial = Signal(int, object)  # ticket, an intermediate result (state.set_partial_result)
    busyChanged = Signal(bool)  # whether a task is pending or running

    def __init__(self, mode: Mode = Mode.LATEST, name: str = "tasks", parent: QObject | None = None,
                 progress_interval: float = PROGRESS_INTERVAL):
        super().__init__(parent)
        self.mode = Mode(mode)
        self.name = name
        self._interval = progress_interval
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._live: dict[int, _Task] = {}  # submitted and not yet ended, by ticket (GUI thread only)
        self._next_ticket = 0
        self._closed = False
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # a safety net; owners shut down on close

    # -- state ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the runner's thread is running (from the first submit until shutdown)."""
        return self._thread is not None and self._thread.isRunning()

    @property
    def busy(self) -> bool:
        """Whether a task is pending or running."""
        return bool(self._live)

    def is_current(self, ticket: int) -> bool:
        """Whether ``ticket``'s task is pending or running and not cancelled."""
        task = self._live.get(ticket)
        return task is not None and not task.state.is_cancelled()

    # -- submitting -------------------------------------------------------------------------------
    def submit(self, fn, *args, key=None) -> int:
        """Run ``fn(state, *args)`` in the runner's thread; returns the ticket its signals will carry.

        In LATEST mode every earlier task is cancelled. After :meth:`shutdown` nothing runs (and no signal
        comes) but a ticket is still returned."""
        self._next_ticket += 1
        ticket = self._next_ticket
        if self._closed:
            return ticket
        if self._thread is None:
            self._start()
        task = _Task(ticket, key, fn, args, TaskState(ticket, self._worker, self._interval))
        was_busy = self.busy
        with self._worker.lock:
            if self.mode is Mode.LATEST:
                self._cancel_where(lambda _t: True)
            self._live[ticket] = task
            self._worker.queue.append(task)
            self._worker.lock.notify()
        if not was_busy:
            self.busyChanged.emit(True)
        return ticket

    def cancel(self, key) -> None:
        """Cancel every pending or running task submitted with ``key`` (a running one stops at its next check)."""
        if self._worker is None:
            return
        was_busy = self.busy
        with self._worker.lock:
            self._cancel_where(lambda t: t.key == key)
        self._emit_if_idle(was_busy)

    def cancel_all(self) -> None:
        if self._worker is None:
            return
        was_busy = self.busy
        with self._worker.lock:
            self._cancel_where(lambda _t: True)
        self._emit_if_idle(was_busy)

    def _cancel_where(self, match) -> None:
        """Cancel the matching live tasks; pending ones leave the queue at once (call with the lock held)."""
        for task in [t for t in self._live.values() if match(t)]:
            task.state.cancel()
            if task in self._worker.queue:
                self._worker.queue.remove(task)
                del self._live[task.ticket]
            # a running task stays live until the worker reports its end (dropped)

    def _emit_if_idle(self, was_busy: bool) -> None:
        if was_busy and not self.busy:
            self.busyChanged.emit(False)

    def _start(self) -> None:
        self._thread = QThread()
        self._thread.setObjectName(f"vae-studio-{self.name}")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        w = self._worker
        w.started.connect(self._on_started)
        w.done.connect(self._on_done)
        w.failed.connect(self._on_failed)
        w.dropped.connect(self._on_dropped)
        w.progress.connect(self._on_progress)
        w.status.connect(self._on_status)
        w.partial.connect(self._on_partial)
        self._thread.started.connect(w.run)
        # an owner deleted without shutdown() (a panel collected) must not destroy a running thread
        self.destroyed.connect(partial(_stop_thread, self._thread, w))
        self._thread.start()

    # -- results (GUI thread) ---------------------------------------------------------------------
    def _end(self, ticket: int) -> bool:
        """Forget ``ticket``; True if its result is to be delivered (live and not cancelled)."""
        task = self._live.pop(ticket, None)
        if not self._live and task is not None and not self._closed:
            self.busyChanged.emit(False)
        return task is not None and not task.state.is_cancelled() and not self._closed

    @Slot(int)
    def _on_started(self, ticket: int) -> None:
        if self.is_current(ticket) and not self._closed:
            self.started.emit(ticket)

    @Slot(int, object)
    def _on_done(self, ticket: int, result) -> None:
        if self._end(ticket):
            self.done.emit(ticket, result)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        if self._end(ticket):
            self.failed.emit(ticket, message)

    @Slot(int)
    def _on_dropped(self, ticket: int) -> None:
        self._end(ticket)

    @Slot(int, float)
    def _on_progress(self, ticket: int, fraction: float) -> None:
        if self.is_current(ticket) and not self._closed:
            self.progress.emit(ticket, fraction)

    @Slot(int, str)
    def _on_status(self, ticket: int, text: str) -> None:
        if self.is_current(ticket) and not self._closed:
            self.status.emit(ticket, text)

    @Slot(int, object)
    def _on_partial(self, ticket: int, value) -> None:
        if self.is_current(ticket) and not self._closed:
            self.partial.emit(ticket, value)

    # -- closing ----------------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Cancel everything, stop the loop, end the thread and wait for it; final and idempotent.

        A running task is asked to stop (``state.is_cancelled()``) and waited for."""
        if self._closed:
            return
        self._closed = True
        was_busy = self.busy
        if self._worker is not None:
            with self._worker.lock:
                self._cancel_where(lambda _t: True)
            _stop_thread(self._thread, self._worker)
        self._live.clear()
        if was_busy:
            self.busyChanged.emit(False)


def _stop_thread(thread: QThread, worker: _Worker, *_destroyed) -> None:
    """Stop the worker's loop (a running task sees ``is_cancelled()``), end the thread and wait for it.

    Idempotent: after a shutdown (or at interpreter exit, when Qt may already have deleted the thread) it
    does nothing more."""
    with worker.lock:
        if worker.stopping and _destroyed:
            return  # shut down already; the thread ended then
        for task in (*worker.queue, *([worker.current] if worker.current else [])):
            task.state.cancel()
        worker.queue.clear()
        worker.stopping = True
        worker.lock.notify_all()
    try:
        thread.quit()
        thread.wait()
    except RuntimeError:  # the C++ thread object is gone (interpreter exit): nothing left to stop
        pass


class TaskHub(QObject):
    """Creates the window's task runners and shuts them all down at once (no module-level registry)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._runners: list[TaskRunner] = []

    @property
    def runners(self) -> tuple[TaskRunner, ...]:
        return tuple(self._runners)

    def runner(self, name: str, mode: Mode = Mode.LATEST) -> TaskRunner:
        """A new runner, owned by the hub and shut down by :meth:`shutdown_all`."""
        r = TaskRunner(mode, name, parent=self)
        self._runners.append(r)
        return r

    @property
    def running(self) -> bool:
        return any(r.running for r in self._runners)

    @Slot()
    def shutdown_all(self) -> None:
        """Shut every runner down (each waits for its thread); idempotent."""
        for r in self._runners:
            r.shutdown()


def runner_for(owner: QObject, hub: TaskHub | None, name: str, mode: Mode = Mode.LATEST) -> TaskRunner:
    """The runner a panel uses: from the window's hub when it has one, else its own (shut down by the panel)."""
    return hub.runner(name, mode) if hub is not None else TaskRunner(mode, name, parent=owner)
