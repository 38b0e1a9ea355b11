"""The "Own terms" plot: the loss terms a variant logs beyond total, reconstruction and KL (beta-TCVAE's
total correlation, InfoVAE's MMD, ...), one term at a time, picked by its title.

A run's own terms are the columns of its ``History.columns`` after the first three; their titles come from
the variant's ``term_titles``. The plot (below the loss plots, sharing their step axis) and its picker show
only while a shown run has own terms; runs with different terms are overlaid, each drawing the picked term
if it has it. The axis stays linear: an estimate may be negative (a total correlation near zero), and a log
axis would hide it.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ...core.variants import VARIANTS
from ..widgets.compact import ElidedComboBox
from .curve_items import add_curve_items, style_step_plot

BASE_TERMS = 3  # total, recon, kl: the columns every run logs


def own_term_names(run) -> list[str]:
    """The run's own loss terms, in its columns' order (none for a plain VAE)."""
    return list(getattr(run.history, "columns", ())[BASE_TERMS:])


def term_title(run, name: str) -> str:
    """The title the run's variant gives ``name`` (else the name in words)."""
    variant = VARIANTS.get(run.config.model.kind)
    titles = variant.term_titles if variant is not None else {}
    return titles.get(name) or name.replace("_", " ").capitalize()


SMOOTH_BLOCK = 64  # rows smoothed by one matrix product


@functools.lru_cache(maxsize=8)
def _ema_block(weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(L, L) lower-triangular ``weight * (1 - weight) ** (r - c)`` and ``(1 - weight) ** (r + 1)``, L = SMOOTH_BLOCK:
    row r of a block's average is ``lower[r] @ block + carry[r] * previous``."""
    r = np.arange(SMOOTH_BLOCK)
    lag = r[:, None] - r[None, :]
    lower = np.where(lag >= 0, weight * (1.0 - weight) ** np.maximum(lag, 0), 0.0)
    return lower, (1.0 - weight) ** (r + 1.0)


def smooth_rows(last: np.ndarray | None, values: np.ndarray, weight: float, out: np.ndarray) -> None:
    """Exponential moving average of ``values`` (rows) into ``out``, continuing from the smoothed row
    ``last`` (None at the start; a non-finite one restarts the average). A block of finite rows is one matrix
    product (a run's whole history, thousands of steps, is smoothed when it is opened)."""
    m = None if last is None else np.asarray(last, dtype=np.float64)
    i, n = 0, len(values)
    while i < n:
        if m is None or not np.isfinite(m).all():
            m = out[i] = values[i]
            i += 1
            continue
        j = min(n, i + SMOOTH_BLOCK)
        block = values[i:j]
        if not np.isfinite(block).all():  # a diverging run: row by row until past the bad row
            m = out[i] = m + weight * (values[i] - m)
            i += 1
            continue
        lower, carry = _ema_block(weight)
        out[i:j] = lower[:j - i, :j - i] @ block + np.outer(carry[:j - i], m)
        m = out[j - 1]
        i = j


class TermBuffers:
    """One run's own terms: per step (growing buffers, raw and smoothed) and per epoch (test points)."""

    def __init__(self, names: list[str], smoothing: float):
        self.names = names
        self.smoothing = smoothing
        k = len(names)
        self.n = 0
        self.data = np.empty((256, 1 + k))  # step, then each term
        self.smooth = np.empty((256, k))
        self.epochs = np.empty((0, 1 + k))  # step, then test_<term>

    def append(self, rows: np.ndarray) -> None:
        """``rows``: step, then the terms (as many as ``names``)."""
        k = len(rows)
        if k == 0:
            return
        if self.n + k > len(self.data):
            cap = max(2 * len(self.data), self.n + k)
            self.data = np.concatenate([self.data[:self.n], np.empty((cap - self.n, self.data.shape[1]))])
            self.smooth = np.concatenate([self.smooth[:self.n], np.empty((cap - self.n, self.smooth.shape[1]))])
        self.data[self.n:self.n + k] = rows
        smooth_rows(self.smooth[self.n - 1] if self.n else None, rows[:, 1:], self.smoothing,
                    self.smooth[self.n:self.n + k])
        self.n += k

    def add_epoch(self, record: dict) -> None:
        row = [record.get("step", math.nan)] + [record.get(f"test_{name}", math.nan) for name in self.names]
        self.epochs = np.vstack([self.epochs, np.asarray(row, dtype=np.float64)])

    def series(self, name: str):
        """(steps, raw, smoothed, epoch steps, test values) of term ``name``; None if the run lacks it."""
        if name not in self.names:
            return None
        j = self.names.index(name)
        x = self.data[:self.n, 0]
        return x, self.data[:self.n, 1 + j], self.smooth[:self.n, j], self.epochs[:, 0], self.epochs[:, 1 + j]


class OwnTermsPlot:
    """The plot item (placed in ``layout`` at ``cell`` while there is something to show), the term picker,
    and each shown run's three curve items (raw, smoothed, test points) on it."""

    def __init__(self, plot: pg.PlotItem, steps_of: pg.PlotItem, layout: pg.GraphicsLayout, cell: dict, on_pick):
        """``steps_of``: the plot whose step range this one follows (not a pyqtgraph x-link: that lines up
        the screen positions of the two plots, and this one spans two columns)."""
        self.plot = plot
        self.steps_of = steps_of
        steps_of.getViewBox().sigXRangeChanged.connect(self._follow_steps)
        self.layout = layout
        self.cell = cell
        self.placed = False
        self.raw_visible = True
        style_step_plot(plot)
        vb = plot.getViewBox()
        vb.setMouseEnabled(x=False, y=False)  # its step range is the loss plots' (pan and zoom those)
        vb.disableAutoRange(axis="x")
        vb.enableAutoRange(axis="y")
        vb.setAutoVisible(y=True)  # the y range fits what is in view
        plot.addLine(y=0, pen=pg.mkPen("#a0a0a0", width=1, style=Qt.PenStyle.DotLine))  # a term may be negative
        self.picker = ElidedComboBox(min_chars=10)
        self.picker.setToolTip("The variant's own loss terms (beyond total, reconstruction and KL): the one "
                               "plotted in the lowest plot")
        self.row = QWidget()  # "Own term: [picker]", under the plots while the own-terms plot shows
        row = QHBoxLayout(self.row)
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Own term:")
        label.setBuddy(self.picker)
        label.setToolTip(self.picker.base_tool_tip())
        row.addWidget(label)
        row.addWidget(self.picker)
        row.addStretch(1)
        self.row.setVisible(False)
        self._on_pick = on_pick
        self.picker.currentIndexChanged.connect(self._picked)

    def _follow_steps(self, *_) -> None:
        self.plot.setXRange(*self.steps_of.getViewBox().viewRange()[0], padding=0)

    def _picked(self, _index: int) -> None:
        self._set_title()
        self._on_pick()

    def _set_title(self) -> None:
        self.plot.setTitle(f"{self.picker.currentText()} (own term)" if self.placed else "", size="10pt")

    @property
    def term(self) -> str | None:
        """The own term plotted (None when no shown run has one)."""
        return self.picker.currentData() if self.placed else None

    def set_runs(self, curves: list) -> None:
        """The shown runs' curves: offer the union of their own terms; show the plot only if there are any."""
        offered: dict[str, str] = {}
        for c in curves:
            for name in c.terms.names:
                offered.setdefault(name, term_title(c.run, name))
        current = self.picker.currentData()
        self.picker.blockSignals(True)
        self.picker.clear()
        for name, title in offered.items():
            self.picker.addItem(title, name)
            self.picker.setItemData(self.picker.count() - 1, f"{title} ({name}): per step; dots: test split",
                                    Qt.ItemDataRole.ToolTipRole)
        self.picker.setCurrentIndex(max(self.picker.findData(current), 0))
        self.picker.blockSignals(False)
        self.row.setVisible(bool(offered))
        if bool(offered) != self.placed:
            if offered:
                self.layout.addItem(self.plot, **self.cell)
                self._follow_steps()
            else:
                self.layout.removeItem(self.plot)
            self.placed = bool(offered)
        self._set_title()

    def draw(self, c) -> int:
        """Draw run ``c``'s picked term (nothing if it lacks it); returns the number of step points drawn."""
        series = c.terms.series(self.term) if self.term else None
        if series is None:
            self.hide(c)
            return 0
        if not c.own_items:
            c.own_items = add_curve_items(self.plot, c.colour, self.raw_visible)
        x, values, smoothed, ex, ey = series
        raw, smooth, marks = c.own_items
        raw.setData(x, values)
        smooth.setData(x, smoothed)
        marks.setData(ex, ey)
        return len(x)

    def hide(self, c) -> None:
        for item in c.own_items:
            self.plot.removeItem(item)
        c.own_items = ()

    def drawn_points(self, c, name: str) -> int:
        if name != self.term or not c.own_items:
            return 0
        x, _y = c.own_items[1].getOriginalDataset()
        return 0 if x is None else len(x)

    def set_raw_visible(self, on: bool, curves) -> None:
        self.raw_visible = on
        for c in curves:
            if c.own_items:
                c.own_items[0].setVisible(on)
