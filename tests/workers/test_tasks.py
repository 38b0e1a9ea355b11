"""The one background-task API: latest wins, queue with cancel, errors as messages, throttled progress, clean
shutdown (pytest-qt fails a test that leaves a thread running or logs a Qt warning)."""
import threading
import time

import pytest
from PySide6.QtCore import QObject, Slot

from vae_studio.workers.tasks import Mode, TaskHub, TaskRunner, TaskState

TIMEOUT = 10_000


class Recorder(QObject):
    """GUI-thread slots (never lambdas) collecting what a runner delivers."""

    def __init__(self, runner: TaskRunner):
        super().__init__()
        self.done, self.failed, self.progress, self.started, self.busy = [], [], [], [], []
        self.status = []
        runner.done.connect(self.on_done)
        runner.status.connect(self.on_status)
        runner.failed.connect(self.on_failed)
        runner.progress.connect(self.on_progress)
        runner.started.connect(self.on_started)
        runner.busyChanged.connect(self.on_busy)

    @Slot(int, object)
    def on_done(self, ticket, result):
        self.done.append((ticket, result))

    @Slot(int, str)
    def on_failed(self, ticket, message):
        self.failed.append((ticket, message))

    @Slot(int, float)
    def on_progress(self, ticket, fraction):
        self.progress.append((ticket, fraction))

    @Slot(int, str)
    def on_status(self, ticket, text):
        self.status.append(text)

    @Slot(int)
    def on_started(self, ticket):
        self.started.append(ticket)

    @Slot(bool)
    def on_busy(self, busy):
        self.busy.append(busy)


@pytest.fixture
def make_runner(qtbot):
    runners = []

    def make(mode=Mode.LATEST, **kw):
        r = TaskRunner(mode, "test", **kw)
        runners.append(r)
        return r, Recorder(r)

    yield make
    for r in runners:
        r.shutdown()
        assert not r.running


def wait_until_idle(qtbot, runner):
    qtbot.waitUntil(lambda: not runner.busy, timeout=TIMEOUT)


def test_a_burst_of_submits_computes_at_most_two_and_delivers_only_the_newest(qtbot, make_runner):
    runner, rec = make_runner(Mode.LATEST)
    computed = []
    gate = threading.Event()

    def square(state, x):
        computed.append(x)
        gate.wait(5)  # the first task is still running while the burst arrives
        return None if state.is_cancelled() else x * x

    tickets = [runner.submit(square, i) for i in range(20)]
    gate.set()
    wait_until_idle(qtbot, runner)
    assert len(computed) <= 2 and computed[-1] == 19
    assert rec.done == [(tickets[-1], 361)] and rec.failed == []
    assert rec.busy == [True, False]


def test_cancel_stops_a_long_task_at_its_next_check_and_the_queue_goes_on(qtbot, make_runner):
    runner, rec = make_runner(Mode.QUEUE)
    checks = []
    entered = threading.Event()

    def long_task(state):
        entered.set()
        for i in range(10_000):
            if state.is_cancelled():
                return i
            checks.append(i)
            time.sleep(0.001)
        return "finished"

    def quick(state, x):
        return x

    long_ticket = runner.submit(long_task, key="long")
    after = runner.submit(quick, "after", key="other")
    assert entered.wait(5)
    runner.cancel("long")
    wait_until_idle(qtbot, runner)
    assert len(checks) < 10_000  # it stopped early
    assert rec.done == [(after, "after")]  # the cancelled result is dropped; the next task ran
    assert long_ticket not in [t for t, _r in rec.done]


def test_queue_mode_runs_in_order_and_cancel_by_key_drops_pending_work(qtbot, make_runner):
    runner, rec = make_runner(Mode.QUEUE)
    gate = threading.Event()

    def echo(state, x):
        gate.wait(5)
        return x

    t = [runner.submit(echo, name, key=name) for name in ("a", "b", "c", "d")]
    runner.cancel("c")  # pending: it never runs
    gate.set()
    wait_until_idle(qtbot, runner)
    assert rec.done == [(t[0], "a"), (t[1], "b"), (t[3], "d")]
    assert t[2] not in rec.started


def test_an_exception_becomes_one_failed_line_and_the_runner_keeps_working(qtbot, make_runner):
    runner, rec = make_runner(Mode.LATEST)

    def boom(state):
        raise ValueError("the weights do not fit\nsecond line of detail")

    bad = runner.submit(boom)
    wait_until_idle(qtbot, runner)
    assert rec.failed == [(bad, "the weights do not fit")]
    good = runner.submit(lambda state: 42)
    wait_until_idle(qtbot, runner)
    assert rec.done == [(good, 42)] and runner.running


def test_progress_is_throttled(qtbot, make_runner):
    runner, rec = make_runner(Mode.LATEST)
    span = {}

    def busy_loop(state):
        t0 = time.monotonic()
        for i in range(20_000):
            state.set_status("first half" if i < 10_000 else "second half")
            state.set_progress(i / 20_000)
        span["seconds"] = time.monotonic() - t0
        return "ok"

    runner.submit(busy_loop)
    wait_until_idle(qtbot, runner)
    assert rec.done and 1 <= len(rec.progress)
    # at most one signal per PROGRESS_INTERVAL (0.1 s) of the loop, plus the first one
    assert len(rec.progress) <= 1 + span["seconds"] / 0.1 + 1
    assert all(0.0 <= f <= 1.0 for _t, f in rec.progress)
    assert rec.status == ["first half", "second half"]  # sent when it changes


def test_shutdown_is_idempotent_stops_a_running_task_and_leaves_no_thread(qtbot, make_runner):
    runner, rec = make_runner(Mode.QUEUE)
    entered = threading.Event()

    def forever(state):
        entered.set()
        while not state.is_cancelled():
            time.sleep(0.001)
        return "late"

    runner.submit(forever)
    runner.submit(forever)
    assert entered.wait(5) and runner.running
    runner.shutdown()
    assert not runner.running
    runner.shutdown()  # again: nothing happens
    runner.submit(forever)  # after shutdown: nothing runs
    qtbot.wait(50)
    assert not runner.running and rec.done == [] and rec.failed == []


def test_the_hub_shuts_every_runner_down(qtbot):
    hub = TaskHub()
    a, b = hub.runner("a"), hub.runner("b", Mode.QUEUE)
    rec = Recorder(b)
    a.submit(lambda state: None)
    ticket = b.submit(lambda state: "b")
    qtbot.waitUntil(lambda: bool(rec.done), timeout=TIMEOUT)
    assert rec.done == [(ticket, "b")] and hub.running
    hub.shutdown_all()
    hub.shutdown_all()
    assert not a.running and not b.running and not hub.running


def test_a_task_function_needs_no_thread():
    """Task functions take any object with the state's methods; the real state works without a runner."""
    state = TaskState()
    state.set_progress(0.5)  # no runner: nothing is emitted, nothing fails
    state.set_status("working")
    assert not state.is_cancelled()
    state.cancel()
    assert state.is_cancelled()


def test_deleting_the_owner_without_shutdown_stops_the_thread(qtbot):
    """A panel collected without closing must not destroy a running thread (that aborts the app)."""
    from shiboken6 import Shiboken

    owner = QObject()
    runner = TaskRunner(Mode.LATEST, "orphan", parent=owner)
    entered = threading.Event()

    def forever(state):
        entered.set()
        while not state.is_cancelled():
            time.sleep(0.001)

    runner.submit(forever)
    assert entered.wait(5) and runner.running
    Shiboken.delete(owner)  # the C++ owner and the runner go; the runner's thread is stopped and joined
    del runner  # the QThread wrapper is freed: with a running thread this would abort the process
    qtbot.wait(10)
