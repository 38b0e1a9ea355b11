"""Typed states of the workspace, free of torch and Qt so any view can import them at start-up.

Run status and training state are enums and progress is a dataclass; views format them into text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class RunStatus(str, Enum):
    """What a run is doing or how it ended (the history's status, typed)."""

    NEW = "new"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"

    @classmethod
    def of(cls, text: str) -> "RunStatus":
        try:
            return cls(text)
        except ValueError:
            return cls.FINISHED

    @property
    def active(self) -> bool:
        return self in (RunStatus.NEW, RunStatus.RUNNING, RunStatus.PAUSED)


class TrainingState(str, Enum):
    IDLE = "idle"
    STARTING = "starting"
    TRAINING = "training"
    PAUSING = "pausing"
    PAUSED = "paused"
    STOPPING = "stopping"


@dataclass(frozen=True)
class Progress:
    """Where the active run is: the view formats it (progress bar, status bar)."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    step_in_epoch: int
    seconds_left: float | None
    beta: float

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def format_seconds(s) -> str:
    if s is None or not math.isfinite(s):
        return "estimating…"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
