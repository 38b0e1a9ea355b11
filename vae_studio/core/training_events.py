"""What a training loop reports and obeys: its events (:class:`StepChunk`, :class:`EpochEnd`,
:class:`Diverged`, :class:`HyperparametersChanged`), the :class:`History` a run keeps, and the thread-safe
:class:`TrainControl` (pause, resume, stop, live hyper-parameters). No torch: plain records that cross
threads and go into run folders; ``training.py`` holds the loop that makes them."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from .errors import ConfigError

BASE_COLUMNS = ("total", "recon", "kl")


@dataclass
class StepChunk:
    epoch: int  # 1-based epoch of these steps
    steps: np.ndarray  # (k,) global step numbers, 1-based
    losses: np.ndarray  # (k, 3 + n) total, recon, KL per sample, then the variant's own n terms
    steps_per_epoch: int
    beta: float  # effective beta of the last step (KL warm-up)
    columns: tuple[str, ...] = BASE_COLUMNS  # the names of the losses' columns


@dataclass
class EpochEnd:
    epoch: int
    record: dict  # one row of the history: train_*, test_*, test_kl_per_dim, beta, seconds


@dataclass
class Diverged:
    epoch: int
    step: int
    message: str


@dataclass
class HyperparametersChanged:
    change: dict  # one row of History.changes: step (steps done before it), epoch (1-based), beta, lr


TrainEvent = Union[StepChunk, EpochEnd, Diverged, HyperparametersChanged]


class TrainControl:
    """Thread-safe pause / resume / stop flags and requested hyper-parameters, checked by the loop between
    steps."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._requested: dict[str, float] = {}

    def set_hyperparameters(self, beta: float | None = None, lr: float | None = None) -> None:
        """Ask the running loop to train with this beta (the warm-up's target) and / or learning rate from
        its next step on. Raises ConfigError for a value no run could use; a later request before the loop
        takes it overrides it."""
        values = {k: v for k, v in (("beta", beta), ("lr", lr)) if v is not None}
        for k, v in values.items():
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not (ok and (v >= 0 if k == "beta" else v > 0)):
                what = "beta must be a finite number, zero or positive" if k == "beta" else \
                    "the learning rate must be a finite positive number"
                raise ConfigError(f"{what}, not {v!r}")
        with self._lock:
            self._requested.update({k: float(v) for k, v in values.items()})

    def take_hyperparameters(self) -> dict[str, float]:
        """The values requested since the last call (beta and / or lr; empty when none), once."""
        if not self._requested:  # a plain read, on every step: no lock unless something waits
            return {}
        with self._lock:
            requested, self._requested = self._requested, {}
        return requested

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        self._stop.set()
        self._running.set()  # wake a paused loop so that it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self):
        while not self._running.wait(0.05):
            pass


@dataclass
class History:
    """What a run has done: per-epoch records and every step's losses."""

    epochs: list[dict] = field(default_factory=list)
    steps: list[list[float]] = field(default_factory=list)  # rows of [step, total, recon, kl, *own terms]
    status: str = "new"  # new, running, paused, finished, stopped, diverged
    message: str = ""
    # hyper-parameter changes: {"step": steps done before it, "epoch": 1-based, "beta": target beta, "lr"}
    changes: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=lambda: list(BASE_COLUMNS))  # the steps' loss columns

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "steps": self.steps, "status": self.status, "message": self.message,
                "changes": self.changes, "columns": self.columns}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d.get("epochs", [])), list(d.get("steps", [])), d.get("status", "finished"),
                   d.get("message", ""), list(d.get("changes", [])), list(d.get("columns", BASE_COLUMNS)))

    @property
    def last(self) -> dict | None:
        return self.epochs[-1] if self.epochs else None
