"""Training runs of the workspace: start, pause, resume, stop, retrain; the jobs' threads and their signals.

The controller turns a :class:`~vae_studio.workers.training_worker.TrainingJob`'s signals into workspace
changes (a new :class:`~vae_studio.app.workspace.RunEntry`, published weights, status changes) and into its
own typed signals (:class:`TrainingState`, :class:`Progress`) that views format. It holds no widgets; the
training panel is one view of it, the status bar another.
"""
from __future__ import annotations

import time
from functools import partial

from PySide6.QtCore import QObject, Signal, Slot

from ..core.checkpoint import Run
from ..core.config import RunConfig
from ..core.changes import describe_change, previous_values
from .event_loop import next_turn
from .states import Progress, TrainingState, format_seconds
from .workspace import RunEntry, Workspace

LIVE_SNAPSHOT_SECONDS = 0.5  # with live weights on, a running run publishes its weights this often


class TrainingController(QObject):
    stateChanged = Signal(object)  # TrainingState
    progressed = Signal(object)  # Progress of the active run
    stepsReceived = Signal(object, object)  # RunEntry, rows (k, 4) [step, total, recon, kl]
    epochEnded = Signal(object, object)  # RunEntry, history record dict
    hyperparametersChanged = Signal(object, object)  # RunEntry, change dict (step, epoch, beta, lr): applied
    message = Signal(str, bool)  # text, is an error
    runFinished = Signal(object, str)  # RunEntry (None if it failed before it had one), final status

    def __init__(self, workspace: Workspace, parent=None):
        super().__init__(parent)
        self.workspace = workspace
        self.state = TrainingState.IDLE
        self.last_outcome = ""  # how the last active run ended (finished, stopped, diverged, failed)
        self._jobs: list = []  # every TrainingJob whose thread is alive
        self._active = None  # the job Start / Pause / Stop control
        self._closed = False  # after shutdown(): late signals of finished workers are ignored
        workspace.runRemoved.connect(self._on_run_removed)
        workspace.liveWeightsChanged.connect(self._on_live_weights)

    # -- what the views ask ------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self._active is not None

    @property
    def active_run(self) -> RunEntry | None:
        return self._active.run if self._active is not None else None

    @property
    def paused_by_user(self) -> bool:
        return self._active is not None and self._active.worker.paused_by_user

    @property
    def stop_requested(self) -> bool:
        return self._active is not None and self._active.worker.control.stop_requested

    @property
    def threads_running(self) -> int:
        """Training jobs not yet over: their thread still runs, or its last signal (finished) has not been
        handled here yet (a stopped run's thread ends a moment after its last step)."""
        if self._closed:
            return sum(j.thread.isRunning() for j in self._jobs)
        return sum(j.thread.isRunning() or not j.handled for j in self._jobs)

    def hyperparameters(self, entry) -> tuple[float, float]:
        """(beta, lr) that ``entry`` trains with now: its last recorded change, else its starting values."""
        changes = entry.history.changes
        if changes:
            return changes[-1]["beta"], changes[-1]["lr"]
        return entry.config.train.beta, entry.config.train.lr

    def is_training(self, entry) -> bool:
        """Whether ``entry``'s thread still runs (it cannot be removed or saved then)."""
        return any(j.run is entry and j.running for j in self._jobs)

    # -- commands ----------------------------------------------------------------------------------
    def start(self, config: RunConfig) -> bool:
        """Train a new run with ``config`` on the workspace's data set; False if one is already training."""
        if self.training or self.workspace.data is None:
            return False
        from ..workers.training_worker import TrainingJob

        config = RunConfig.from_dict(config.to_dict())  # the run keeps its own copy
        job = TrainingJob(config, self.workspace.data)
        w = job.worker
        w.prepared.connect(self._on_prepared)
        w.chunk.connect(self._on_chunk)
        w.snapshot.connect(self._on_snapshot)
        w.epochEnded.connect(self._on_epoch)
        w.hyperparametersChanged.connect(self._on_hyperparameters)
        w.paused.connect(self._on_paused)
        w.resumed.connect(self._on_resumed)
        w.diverged.connect(self._on_diverged)
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_finished)
        job.thread.finished.connect(self._reap)
        job.started_at = time.perf_counter()
        job.replaced = False
        job.handled = False  # its finished signal has been handled
        w.set_snapshot_interval(LIVE_SNAPSHOT_SECONDS if self.workspace.live_weights else 0.0)
        self._jobs.append(job)
        self._active = job
        self._set_state(TrainingState.STARTING)
        job.start()
        return True

    def retrain(self, config: RunConfig) -> bool:
        """A new run with ``config``. A run still training is stopped first; if it had not finished its
        first epoch it is replaced (removed once it stops) rather than left in the list as junk."""
        job = self._active
        if job is not None:
            job.replaced = not (job.run is not None and job.run.history.epochs)
            job.stop()
            self._active = None
        return self.start(config)

    def toggle_pause(self) -> None:
        job = self._active
        if job is None:
            return
        if job.worker.paused_by_user:
            job.worker.resume()
        else:
            job.worker.pause()
            self._set_state(TrainingState.PAUSING)

    def set_hyperparameters(self, beta: float | None = None, lr: float | None = None) -> bool:
        """Ask the active run to train with this beta (the KL warm-up's target) and / or learning rate from
        its next step; ``hyperparametersChanged`` follows once it does. False when no run is training (or it
        is stopping); ConfigError for a value no run could use."""
        job = self._active
        if job is None or job.run is None or job.worker.control.stop_requested:
            return False
        job.worker.set_hyperparameters(beta=beta, lr=lr)
        return True

    def stop(self) -> None:
        if self._active is not None:
            self._active.stop()
            self._set_state(TrainingState.STOPPING)

    @Slot(bool)
    def _on_live_weights(self, live: bool) -> None:
        """Live on: a running run publishes its weights every LIVE_SNAPSHOT_SECONDS, not only at epoch ends."""
        for job in self._jobs:
            job.worker.set_snapshot_interval(LIVE_SNAPSHOT_SECONDS if live else 0.0)

    def shutdown(self) -> None:
        """Stop every run and wait for the threads (closing the window). Each run keeps the weights it has;
        they are published without a signal, and the workers' last signals, still queued, are ignored."""
        self._closed = True
        for job in list(self._jobs):
            job.shutdown()
            if job.run is not None and self.workspace.entry(job.run) is not None:
                self.workspace.publish_weights(job.run, emit=False)
        self._active = None

    # -- the jobs' signals -------------------------------------------------------------------------
    def _job(self):
        if self._closed:
            return None
        sender = self.sender()
        return next((j for j in self._jobs if j.worker is sender), None)

    @Slot(object, object, object)
    def _on_prepared(self, model, history, _state) -> None:
        job = self._job()
        if job is None:
            return
        data = self.workspace.data
        run = Run(config=job.config, model=model, history=history,
                  class_names=list(data.class_names) if data is not None else [], name=self.workspace.unique_name())
        history.status = "running"  # from now on; nothing trains the weights until go()
        job.run = self.workspace.add_run(run, select=False)
        job.worker.go()
        if job is self._active:
            self._set_state(TrainingState.TRAINING)
        # selecting it sets the new run up in every panel: in the next event-loop turn, so that adding it
        # and showing it are two short pauses of the GUI thread rather than one long one
        next_turn(self, partial(self._select_new_run, job.run))

    def _select_new_run(self, entry) -> None:
        if not self._closed and self.workspace.entry(entry) is not None:
            self.workspace.select_run(entry)

    @Slot(object, object)
    def _on_chunk(self, rows, info) -> None:
        job = self._job()
        if job is None or job.run is None:
            return
        self.stepsReceived.emit(job.run, rows)
        if job is self._active and info:
            self.progressed.emit(Progress(**{k: info[k] for k in Progress.__dataclass_fields__}))

    @Slot(object)
    def _on_snapshot(self, state) -> None:
        job = self._job()
        if job is not None and job.run is not None and self.workspace.live_weights:
            self.workspace.publish_weights(job.run, state)

    @Slot(object, object)
    def _on_epoch(self, record, state) -> None:
        job = self._job()
        if job is None or job.run is None:
            return
        self.epochEnded.emit(job.run, record)
        self.workspace.publish_weights(job.run, state)

    @Slot(object)
    def _on_hyperparameters(self, change) -> None:
        job = self._job()  # the trainer has recorded the change in the run's history already
        if job is not None and job.run is not None:
            self.hyperparametersChanged.emit(job.run, change)
            t = job.run.config.train
            before = previous_values(job.run.history.changes, change, t.beta, t.lr)
            self.message.emit(f"{job.run.name}: {describe_change(before, change)} from step {change['step']}.",
                              False)

    @Slot()
    def _on_paused(self) -> None:
        self._on_pause_toggled(TrainingState.PAUSED)

    @Slot()
    def _on_resumed(self) -> None:
        self._on_pause_toggled(TrainingState.TRAINING)

    def _on_pause_toggled(self, state: TrainingState) -> None:
        job = self._job()  # (the sender: call from the two slots only)
        if job is None:
            return
        if job.run is not None:
            self.workspace.update_status(job.run)
        if job is self._active:
            self._set_state(state)

    @Slot(str)
    def _on_diverged(self, message) -> None:
        job = self._job()
        name = job.run.name if job is not None and job.run is not None else "The run"
        self.message.emit(f"{name} diverged: {message}", True)

    @Slot(str)
    def _on_failed(self, message) -> None:
        job = self._job()
        name = job.run.name if job is not None and job.run is not None else "Training"
        self.message.emit(f"{name} failed: {message}", True)

    @Slot(str, object)
    def _on_finished(self, status, state) -> None:
        job = self._job()
        if job is None:
            return
        job.handled = True
        entry = job.run
        if entry is not None and job.replaced and not entry.history.epochs:
            self.workspace.remove_run(entry)  # Retrain replaced it before its first epoch ended
        elif entry is not None:
            if state is not None:
                self.workspace.publish_weights(entry, state)
            self.workspace.update_status(entry)
            if status == "finished":
                self.message.emit(f"{entry.name} finished {job.config.train.epochs} epochs in "
                                  f"{format_seconds(time.perf_counter() - job.started_at)}.", False)
            elif status == "stopped" and entry.history.message:
                self.message.emit(f"{entry.name}: {entry.history.message}.", False)
        if job is self._active:
            self._active = None
            self.last_outcome = status
            self._set_state(TrainingState.IDLE)
        self.runFinished.emit(entry, status)

    @Slot()
    def _reap(self) -> None:
        # a thread can end before its worker's last signal (finished) is handled here: keep the job till then
        self._jobs = [j for j in self._jobs if not (j.handled and j.thread.isFinished())]

    @Slot(object)
    def _on_run_removed(self, entry) -> None:
        for job in self._jobs:  # a removed run that still trains (replaced by Retrain) stops
            if job.run is entry:
                job.stop()

    def _set_state(self, state: TrainingState) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)
