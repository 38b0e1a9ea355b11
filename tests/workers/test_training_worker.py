"""TrainingWorker on its QThread: chunks, epochs, pause/resume, stop, divergence and errors become signals."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, Signal, Slot

from vae_studio.core import training
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.data import ImageData
from vae_studio.workers.training_worker import TrainingJob

TIMEOUT = 20000


def small_data(n=300, size=16, seed=0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = (torch.rand(n, 1, size, size, generator=g) * 80).to(torch.uint8)
    for c in range(3):  # a bright bar per class: something to learn
        x[y == c, :, :, 4 * c:4 * c + 4] = 230
    k = n * 9 // 10
    return ImageData("small", x[:k].contiguous(), x[k:].contiguous(), y[:k], y[k:], ["a", "b", "c"])


def small_config(epochs=2, **train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="small"),
                     model=ModelConfig(latent_dim=4, hidden=[32]),
                     train=TrainConfig(epochs=epochs, batch_size=32, **train))


class Recorder(QObject):
    """Lives in the GUI thread; records what the worker sends and lets a prepared worker go.

    Tests wait on the recorder's signals, emitted in the GUI thread: pytest-qt's blockers connected straight
    to a worker signal would run in the worker thread (and stop their timer from there)."""

    gotPrepared = Signal()
    gotChunk = Signal()
    gotPaused = Signal()
    gotFinished = Signal()

    def __init__(self, job: TrainingJob, go: bool = True):
        super().__init__()
        self.job, self.go = job, go
        self.rows: list[np.ndarray] = []
        self.infos: list[dict] = []
        self.records: list[dict] = []
        self.states: list[dict] = []
        self.failures: list[str] = []
        self.divergences: list[str] = []
        self.finished: list[tuple] = []
        self.model = None
        w = job.worker
        w.prepared.connect(self.on_prepared)
        w.chunk.connect(self.on_chunk)
        w.epochEnded.connect(self.on_epoch)
        w.failed.connect(self.on_failed)
        w.diverged.connect(self.on_diverged)
        w.finished.connect(self.on_finished)
        w.paused.connect(self.on_paused)

    @Slot(object, object, object)
    def on_prepared(self, model, history, state):
        self.model = model
        if self.go:
            self.job.worker.go()
        self.gotPrepared.emit()

    @Slot(object, object)
    def on_chunk(self, rows, info):
        self.rows.append(rows)
        self.infos.append(info)
        self.gotChunk.emit()

    @Slot()
    def on_paused(self):
        self.gotPaused.emit()

    @Slot(object, object)
    def on_epoch(self, record, state):
        self.records.append(record)
        self.states.append(state)

    @Slot(str)
    def on_failed(self, message):
        self.failures.append(message)

    @Slot(str)
    def on_diverged(self, message):
        self.divergences.append(message)

    @Slot(str, object)
    def on_finished(self, status, state):
        self.finished.append((status, state))
        self.gotFinished.emit()

    @property
    def steps(self) -> np.ndarray:
        return np.concatenate(self.rows)[:, 0] if self.rows else np.empty(0)


@pytest.fixture
def start_job(qtbot):
    jobs = []

    def start(config, data=None, go=True, **kw):
        job = TrainingJob(config, data if data is not None else small_data(), **kw)
        rec = Recorder(job, go)
        jobs.append(job)
        return job, rec

    yield start
    for job in jobs:  # never leave a thread running at the end of a test
        job.shutdown()
        assert job.thread.isFinished()


def run_to_end(qtbot, job, rec):
    with qtbot.waitSignal(rec.gotFinished, timeout=TIMEOUT):
        job.start()
    qtbot.waitUntil(job.thread.isFinished, timeout=TIMEOUT)


def test_chunks_cover_every_step_and_epochs_carry_cpu_weights(qtbot, start_job):
    job, rec = start_job(small_config(epochs=2), log_every=4)
    run_to_end(qtbot, job, rec)
    spe = (270 + 31) // 32
    assert rec.failures == []
    assert rec.finished[0][0] == "finished"
    assert np.array_equal(rec.steps, np.arange(1, 2 * spe + 1))  # every step once, in order
    rows = np.concatenate(rec.rows)
    assert rows.shape[1] == 4 and np.isfinite(rows).all()
    assert [r["epoch"] for r in rec.records] == [1, 2]
    keys = set(rec.model.state_dict())
    for state in rec.states:
        assert set(state) == keys and all(v.device.type == "cpu" for v in state.values())
    assert rec.infos[-1]["epoch"] == 2 and rec.infos[-1]["steps_per_epoch"] == spe
    # the epoch snapshot is a copy: training on does not change it
    final = rec.finished[0][1]
    assert not all(torch.equal(final[k], rec.states[0][k]) for k in keys)


def test_chunks_are_throttled(qtbot, start_job):
    job, rec = start_job(small_config(epochs=3), log_every=1, emit_interval=10.0)
    run_to_end(qtbot, job, rec)
    # one step per StepChunk from the trainer, but the worker sends only at epoch ends and at the end
    assert len(rec.rows) <= 3 + 1
    assert len(rec.steps) == 3 * 9


def test_pause_stops_steps_and_resume_continues(qtbot, start_job):
    job, rec = start_job(small_config(epochs=10000), log_every=2)
    w = job.worker
    with qtbot.waitSignal(rec.gotChunk, timeout=TIMEOUT):
        job.start()
    with qtbot.waitSignal(rec.gotPaused, timeout=TIMEOUT):
        w.pause()
    n = len(rec.steps)
    with qtbot.assertNotEmitted(rec.gotChunk, wait=300):
        pass
    assert len(rec.steps) == n
    assert job.worker.trainer.history.status == "paused"
    with qtbot.waitSignal(rec.gotChunk, timeout=TIMEOUT):
        w.resume()
    assert len(rec.steps) > n
    assert rec.steps[n] == rec.steps[n - 1] + 1  # no step lost or repeated across the pause
    with qtbot.waitSignal(rec.gotFinished, timeout=TIMEOUT):
        w.stop()
    qtbot.waitUntil(job.thread.isFinished, timeout=TIMEOUT)
    assert rec.finished[0][0] == "stopped"


def test_stop_while_paused_ends_the_thread(qtbot, start_job):
    job, rec = start_job(small_config(epochs=10000), log_every=2)
    with qtbot.waitSignal(rec.gotPaused, timeout=TIMEOUT):
        job.worker.pause()  # paused before the first step
        job.start()
    with qtbot.waitSignal(rec.gotFinished, timeout=TIMEOUT):
        job.stop()
    qtbot.waitUntil(job.thread.isFinished, timeout=TIMEOUT)
    assert rec.finished[0][0] == "stopped"


def test_stop_takes_effect_within_one_step(qtbot, start_job, monkeypatch):
    original = training.Trainer._train_step

    def step(self, x, y, beta):
        terms = original(self, x, y, beta)
        if self.step == 4:  # the user presses Stop while step 5 runs
            self.control.stop()
        return terms

    monkeypatch.setattr(training.Trainer, "_train_step", step)
    job, rec = start_job(small_config(epochs=100), log_every=50)
    run_to_end(qtbot, job, rec)
    assert job.worker.trainer.step == 5
    assert rec.steps[-1] == 5  # the rows up to the stop still arrive
    assert rec.finished[0][0] == "stopped"
    assert rec.finished[0][1] is not None  # the weights trained so far come back


def test_divergence_stops_with_a_message_and_finite_weights(qtbot, start_job, monkeypatch):
    original = training.Trainer._train_step

    def step(self, x, y, beta):
        terms = original(self, x, y, beta)
        if self.step >= 12:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(training.Trainer, "_train_step", step)
    job, rec = start_job(small_config(epochs=5), log_every=4)
    run_to_end(qtbot, job, rec)
    assert len(rec.divergences) == 1 and "nan" in rec.divergences[0]
    status, state = rec.finished[0]
    assert status == "diverged"
    assert all(torch.isfinite(v).all() for v in state.values())
    assert np.isfinite(np.concatenate(rec.rows)).all()  # the bad steps are not plotted


@pytest.mark.parametrize("where", ["step", "model"])
def test_gpu_out_of_memory_is_reported_not_raised(qtbot, start_job, monkeypatch, where):
    def oom(*_a, **_k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    if where == "step":
        monkeypatch.setattr(training.Trainer, "_train_step", oom)
    else:
        monkeypatch.setattr(training, "build_model", oom)
    job, rec = start_job(small_config(epochs=2))
    run_to_end(qtbot, job, rec)
    assert len(rec.failures) == 1 and "out of GPU memory" in rec.failures[0]
    assert rec.finished[0] == ("failed", None)


def test_any_exception_becomes_a_failure_message(qtbot, start_job, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied\nmore detail")

    monkeypatch.setattr(training.Trainer, "_train_step", boom)
    job, rec = start_job(small_config(epochs=2))
    run_to_end(qtbot, job, rec)
    assert rec.failures == ["mat1 and mat2 shapes cannot be multiplied"]
    assert rec.finished[0][0] == "failed"
    assert job.worker.trainer.history.status == "failed"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_device_fails_with_its_reason(qtbot, start_job):
    job, rec = start_job(small_config(epochs=1, device="cuda"))
    run_to_end(qtbot, job, rec)
    assert len(rec.failures) == 1 and "not available" in rec.failures[0]
    assert rec.model is None  # nothing was built


def test_shutdown_of_a_waiting_worker(qtbot, start_job):
    job, rec = start_job(small_config(epochs=1), go=False)  # prepared, never told to go
    with qtbot.waitSignal(rec.gotPrepared, timeout=TIMEOUT):
        job.start()
    job.shutdown()
    assert job.thread.isFinished()


def test_two_gui_runs_with_the_same_settings_are_bit_identical_while_other_threads_draw(qtbot, start_job):
    """Issue 11, item 3: decoding, sampling and metrics threads draw from torch's global generator while a
    run trains; the run's own generators keep two runs with the same settings identical."""
    from tests.core.test_training import GlobalRngHammer

    results = []
    with GlobalRngHammer() as hammer:
        for _ in range(2):
            job, rec = start_job(small_config(epochs=2, seed=11), log_every=3)
            run_to_end(qtbot, job, rec)
            assert rec.failures == [] and rec.finished[0][0] == "finished"
            results.append(rec)
    assert hammer.draws > 10
    a, b = results
    assert np.array_equal(np.concatenate(a.rows), np.concatenate(b.rows))  # every step's losses
    assert [r["test_total"] for r in a.records] == [r["test_total"] for r in b.records]
    wa, wb = a.finished[0][1], b.finished[0][1]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
