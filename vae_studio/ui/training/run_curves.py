"""One run's loss curves as data: growing NumPy buffers of its step losses (raw and smoothed), its per-epoch
test points, its latest KL per latent dimension and its hyper-parameter changes.

Chunks arrive through :meth:`RunCurves.append` and :meth:`RunCurves.add_epoch`; each change bumps
:attr:`RunCurves.version`, and :class:`~vae_studio.ui.training.loss_plot.LossPlot` redraws a run only when
its version differs from the one it last drew. The plot items drawn for the run are kept here too
(``items``, ``own_items``, ``change_lines``), so that the plot can take them away with the run.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from ...core.changes import describe_change, previous_values
from .own_terms import TermBuffers, own_term_names, smooth_rows

SMOOTHING = 0.1  # EMA weight of each new step (TensorBoard's "0.9"): lags about 9 steps


class RunCurves:
    """One run's step losses (growing buffers, raw and smoothed) and its per-epoch test points."""

    def __init__(self, run, colour: str):
        self.run = run
        self.colour = colour
        self.n = 0
        self.data = np.empty((256, 4))  # step, total, recon, kl
        self.smooth = np.empty((256, 3))
        self.epochs = np.empty((0, 4))  # step, test_total, test_recon, test_kl
        self.kl_per_dim: np.ndarray | None = None
        self.terms = TermBuffers(own_term_names(run), SMOOTHING)  # the variant's own terms, if any
        self.own_items: tuple = ()  # (raw, smooth, markers) on the own-terms plot while shown
        self.epoch_count = 0
        self.planned = 0  # steps the run will have when it ends (the x range), 0 when unknown
        self.hi = np.full(3, -np.inf)  # largest step loss per metric
        self.lo = np.full(3, np.inf)  # smallest
        self.lo_pos = np.full(3, np.inf)  # smallest positive (for the log scale)
        self.items: dict[str, tuple] = {}  # metric -> (raw, smooth, markers) while shown
        self.changes: list[tuple[float, str]] = []  # (step, label) of each beta / lr change
        self.change_lines: list[tuple[str, pg.InfiniteLine]] = []  # (metric, line) drawn for them
        self.version = 0  # bumped on every change; the plot redraws when it differs from what it drew
        self.drawn = -1

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        rows = rows.reshape(-1, rows.shape[-1] if rows.ndim else 1)
        k = len(rows)
        if k == 0:
            return
        own = len(self.terms.names)
        if own and rows.shape[1] >= 4 + own:  # step, total, recon, kl, then the variant's own terms
            self.terms.append(np.concatenate([rows[:, :1], rows[:, 4:4 + own]], axis=1))
        rows = rows[:, :4]
        if self.n + k > len(self.data):
            cap = max(2 * len(self.data), self.n + k)
            self.data = np.concatenate([self.data[:self.n], np.empty((cap - self.n, 4))])
            self.smooth = np.concatenate([self.smooth[:self.n], np.empty((cap - self.n, 3))])
        self.data[self.n:self.n + k] = rows
        with np.errstate(invalid="ignore"):
            v = np.where(np.isfinite(rows[:, 1:]), rows[:, 1:], np.nan)
            if np.isfinite(v).any(axis=0).all():
                self.hi = np.fmax(self.hi, np.nanmax(v, axis=0))
                self.lo = np.fmin(self.lo, np.nanmin(v, axis=0))
                self.lo_pos = np.fmin(self.lo_pos, np.nanmin(np.where(v > 0, v, np.nan), axis=0))
        smooth_rows(self.smooth[self.n - 1] if self.n else None, rows[:, 1:], SMOOTHING,
                    self.smooth[self.n:self.n + k])
        self.n += k
        self.version += 1

    def add_epoch(self, record: dict) -> None:
        row = [record.get("step", math.nan), record.get("test_total", math.nan),
               record.get("test_recon", math.nan), record.get("test_kl", math.nan)]
        self.epochs = np.vstack([self.epochs, np.asarray(row, dtype=np.float64)])
        v = np.asarray(row[1:], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(v)
            self.hi = np.where(ok, np.fmax(self.hi, v), self.hi)
            self.lo = np.where(ok, np.fmin(self.lo, v), self.lo)
            self.lo_pos = np.where(ok & (v > 0), np.fmin(self.lo_pos, v), self.lo_pos)
        self.terms.add_epoch(record)
        kl = record.get("test_kl_per_dim")
        if kl is not None:
            self.kl_per_dim = np.asarray(kl, dtype=np.float64)
        self.epoch_count += 1
        self.version += 1

    def load_history(self, history) -> None:
        if history.steps:
            self.append(np.asarray(history.steps, dtype=np.float64))
        for record in history.epochs:
            self.add_epoch(record)
        self.update_changes()

    def update_changes(self) -> None:
        """Read the run's hyper-parameter changes again (its history is where they are recorded)."""
        t = self.run.config.train
        changes = self.run.history.changes
        self.changes = [(float(c["step"]), describe_change(previous_values(changes, c, t.beta, t.lr), c, short=True))
                        for c in changes]
        self.version += 1

    @property
    def steps(self) -> np.ndarray:
        return self.data[:self.n]

    @property
    def last_step(self) -> float:
        last = self.data[self.n - 1, 0] if self.n else 0.0
        return max(last, float(np.nanmax(self.epochs[:, 0])) if len(self.epochs) else 0.0)
