"""Training off the GUI thread: a worker that iterates ``Trainer.iter_train()`` on a QThread.

Protocol (all signals are queued to slots of GUI-thread objects):

1. ``thread.started`` runs :meth:`TrainingWorker.run` in the worker thread. It builds the
   :class:`~vae_studio.core.training.Trainer` there (model creation can take a while), emits
   ``prepared(model, history, state)`` and waits until the GUI calls :meth:`go` (the GUI wraps the model in
   a ``Run`` and adds it to the workspace while nothing trains it).
2. While training it emits ``chunk(rows, info)`` at most ``1 / emit_interval`` times a second: ``rows`` is a
   float64 array of ``[step, total, recon, kl]`` rows, ``info`` a dict (epoch, epochs, step,
   steps_per_epoch, step_in_epoch, seconds_left, beta). At each epoch end: ``epochEnded(record, state)``
   with a CPU copy of the weights.
3. ``hyperparametersChanged(change)`` when the loop applies a new beta / learning rate (a row of the
   history's ``changes``: step, epoch, beta, lr), after the steps before it were sent;
   ``paused`` / ``resumed`` when the loop actually blocks / continues; ``diverged(message)``;
   ``failed(message)`` for any error (never left to kill the thread); always ``finished(status, state)`` last
   (``state``: the final CPU weights, or None after a failure).

:meth:`pause`, :meth:`resume`, :meth:`stop` and :meth:`set_hyperparameters` are thread-safe and meant to be called from the GUI thread
while :meth:`run` loops (the worker's own event loop is blocked then). Stop takes effect before the next
training step.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from .priority import TRAINING_NICENESS, lower_this_thread
from ..core.training import Trainer
from ..core.training_events import Diverged, EpochEnd, HyperparametersChanged, StepChunk, TrainControl

EMIT_INTERVAL = 0.05  # seconds between chunk signals: at most ~20 a second
LOG_EVERY = 64  # steps per StepChunk at most (each costs a device sync); a chunk is also cut every EMIT_INTERVAL


class _WorkerControl(TrainControl):
    """The worker's TrainControl: pause / resume / stop, and it tells the worker when the loop really blocks
    on a pause (``on_block``) and goes on (``on_unblock``). The losses reach the worker without any pretend
    pause: the trainer cuts a chunk every ``emit_interval`` seconds by itself (``chunk_seconds``)."""

    def __init__(self, on_block, on_unblock):
        super().__init__()
        self._on_block, self._on_unblock = on_block, on_unblock

    @property
    def user_paused(self) -> bool:
        return self.paused

    def wait_while_paused(self):
        if not self.paused:
            return
        self._on_block()
        super().wait_while_paused()
        self._on_unblock()


def cpu_state(model) -> dict:
    """A CPU copy of a model's weights, safe to hand to another thread."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class TrainingWorker(QObject):
    prepared = Signal(object, object, object)  # model, History, CPU state: waiting for go()
    chunk = Signal(object, object)  # np.ndarray (k, 4) [step, total, recon, kl]; info dict
    snapshot = Signal(object)  # CPU state dict within an epoch (only with set_snapshot_interval > 0)
    epochEnded = Signal(object, object)  # history record dict, CPU state dict
    hyperparametersChanged = Signal(object)  # dict: step, epoch, beta, lr (a row of History.changes)
    paused = Signal()
    resumed = Signal()
    diverged = Signal(str)
    failed = Signal(str)
    finished = Signal(str, object)  # status (finished, stopped, diverged, failed), CPU state or None

    def __init__(self, config, data, log_every: int = LOG_EVERY, emit_interval: float = EMIT_INTERVAL):
        """``log_every``: most steps per chunk from the trainer (it also cuts one every ``emit_interval``);
        ``emit_interval``: least seconds between two ``chunk`` signals."""
        super().__init__()
        self.config = config
        self.data = data
        self.log_every = log_every
        self.emit_interval = emit_interval
        self.control = _WorkerControl(self._on_paused, self._on_resumed)
        self.trainer: Trainer | None = None
        self._go = threading.Event()
        self._rows: list[np.ndarray] = []
        self._info: dict | None = None
        self._last_emit = 0.0
        self._active_seconds = 0.0  # training time, pauses excluded (for the time-left estimate)
        self._t_resume = 0.0
        self._steps_at_start = 0
        self._snapshot_interval = 0.0
        self._last_snapshot = 0.0

    # -- called from the GUI thread ----------------------------------------------------------------
    def go(self) -> None:
        """Let a prepared worker start training."""
        self._go.set()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()
        self._go.set()

    def set_hyperparameters(self, beta: float | None = None, lr: float | None = None) -> None:
        """Train with this beta and / or learning rate from the next step on (ConfigError for bad values);
        ``hyperparametersChanged`` says when it happened."""
        self.control.set_hyperparameters(beta=beta, lr=lr)

    def set_snapshot_interval(self, seconds: float) -> None:
        """Also emit ``snapshot`` with the weights every ``seconds`` while training (0: only at epoch ends)."""
        self._snapshot_interval = max(0.0, float(seconds))

    @property
    def paused_by_user(self) -> bool:
        return self.control.user_paused

    # -- the worker thread ---------------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        lower_this_thread(TRAINING_NICENESS)  # the GUI thread comes first when both want a core
        status, state = "failed", None
        oom = False
        try:
            trainer = Trainer(self.config, self.data, control=self.control, log_every=self.log_every,
                              chunk_seconds=self.emit_interval)
            self.trainer = trainer
            self.prepared.emit(trainer.model, trainer.history, cpu_state(trainer.model))
            while not self._go.wait(0.05):
                pass
            if self.control.stop_requested:
                trainer.history.status = "stopped"
                trainer.history.message = "stopped before the first step"
            else:
                self._train(trainer)
            status = trainer.history.status
            state = cpu_state(trainer.model)
        except Exception as e:  # noqa: BLE001 - every error becomes a message, never a dead thread
            oom = type(e).__name__ == "OutOfMemoryError"
            device = self.config.train.device
            if oom:
                msg = f"out of GPU memory on {device}: try a smaller batch size, a smaller model or the CPU"
            else:
                text = str(e).strip().splitlines()
                msg = text[0] if text else type(e).__name__
            if self.trainer is not None:
                self.trainer.history.status, self.trainer.history.message = "failed", msg
            self._flush()
            self.failed.emit(msg)
        if oom:  # the exception (and its frames holding GPU tensors) is gone now
            _empty_cuda_cache()
        self._flush()
        self.finished.emit(status, state)

    def _train(self, trainer: Trainer) -> None:
        self._steps_at_start = trainer.step
        self._t_resume = time.perf_counter()
        for ev in trainer.iter_train():
            if isinstance(ev, StepChunk):
                self._add_chunk(trainer, ev)
            elif isinstance(ev, EpochEnd):
                self._flush()
                self.epochEnded.emit(ev.record, cpu_state(trainer.model))
            elif isinstance(ev, HyperparametersChanged):
                self._flush()
                self.hyperparametersChanged.emit(dict(ev.change))
            elif isinstance(ev, Diverged):
                self._flush()
                self.diverged.emit(ev.message)

    def _add_chunk(self, trainer: Trainer, ev: StepChunk) -> None:
        rows = np.empty((len(ev.steps), 1 + ev.losses.shape[1]), dtype=np.float64)
        rows[:, 0] = ev.steps
        rows[:, 1:] = ev.losses
        self._rows.append(rows)
        epochs, spe = self.config.train.epochs, ev.steps_per_epoch
        step = int(ev.steps[-1])
        done = step - self._steps_at_start
        active = self._active_seconds + (time.perf_counter() - self._t_resume)
        left = None
        if done > 0:
            left = (epochs * spe - step) * active / done
        self._info = {"epoch": ev.epoch, "epochs": epochs, "step": step, "steps_per_epoch": spe,
                      "step_in_epoch": step - (ev.epoch - 1) * spe, "seconds_left": left, "beta": ev.beta}
        now = time.perf_counter()
        ctl = self.control
        if now - self._last_emit >= self.emit_interval or ctl.user_paused or ctl.stop_requested:
            self._flush()
        if self._snapshot_interval and now - self._last_snapshot >= self._snapshot_interval:
            self._last_snapshot = now
            self.snapshot.emit(cpu_state(trainer.model))

    def _flush(self) -> None:
        if not self._rows:
            return
        rows = self._rows[0] if len(self._rows) == 1 else np.concatenate(self._rows)
        self._rows = []
        self._last_emit = time.perf_counter()
        self.chunk.emit(rows, dict(self._info or {}))

    def _on_paused(self) -> None:  # in the worker thread, inside the training loop
        self._active_seconds += time.perf_counter() - self._t_resume
        self._flush()
        if self.trainer is not None:
            self.trainer.history.status = "paused"
        self.paused.emit()

    def _on_resumed(self) -> None:
        self._t_resume = time.perf_counter()
        if self.trainer is not None and not self.control.stop_requested:
            self.trainer.history.status = "running"
        self.resumed.emit()


def _empty_cuda_cache() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass


class TrainingJob:
    """One training run's QThread and worker, held by the GUI thread for as long as the thread lives."""

    def __init__(self, config, data, log_every: int = LOG_EVERY, emit_interval: float = EMIT_INTERVAL):
        self.config = config
        self.run = None  # the workspace's Run, once the worker is prepared
        self.thread = QThread()
        self.thread.setObjectName("vae-studio-training")
        self.worker = TrainingWorker(config, data, log_every=log_every, emit_interval=emit_interval)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # direct: quit() is thread-safe, and the GUI thread may be blocked in wait() when this fires
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> None:
        self.worker.stop()

    def shutdown(self) -> None:
        """Stop training and wait for the thread to end (never terminate())."""
        self.worker.stop()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait()
