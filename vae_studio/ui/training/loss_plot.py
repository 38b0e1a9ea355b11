"""Live loss curves: total, reconstruction and KL per step for every shown run, test points per epoch, and
the KL of each latent dimension of the current run as a bar chart. A change of beta or the learning rate
during a run is a dashed vertical line at its step, labelled with what changed (β 1→4).

Data arrive in chunks (:meth:`LossPlot.append`) into each run's growing NumPy buffers (:mod:`.run_curves`);
a ~30 Hz timer redraws only what changed (``setData`` with clip-to-view and peak downsampling), so a fast
trainer never floods the GUI. The axes' tick labels are :mod:`.loss_axes`.

Longer than most modules (about 450 lines) on purpose: the redraw budget, the axis ranges and the items each
redraw draws are one mechanism (each redraw decides what to redraw from the buffers' versions and the ranges
it drew); split apart they would have to share that state through each other's internals.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget
from superqt.utils import QSignalThrottler

from ...app.event_loop import next_turn
from ..widgets.compact import hint_label
from ..widgets.variant_names import uses_beta
from .curve_items import add_curve_items, fix_tick_text_space, style_step_plot
from .loss_axes import LossAxis, StepAxis
from .own_terms import OwnTermsPlot
from .run_curves import RunCurves
from .steady_title import give_steady_title

METRICS = ("total", "recon", "kl")
TITLES = {"total": "Total loss", "recon": "Reconstruction", "kl": "KL divergence"}
REDRAW_MS = 33  # new data is drawn this long after it arrives, at most this often, and no sooner than
REDRAW_BUDGET = 4  # this many times the last redraw's cost: at most ~1/4 of the GUI thread however long the curves
ACTIVE_KL = 0.01  # nats: a latent dimension with less test KL carries no information (metrics.py)
MIN_PLOT_WIDTH = 150  # pixels: the least width of each of the two plot columns (the view never gets narrower)
BARS_TITLE_WIDEST = "64 of 64 active · epoch 99"  # the bar chart's title keeps this width whatever it says


LEGEND_NAME_CHARS = 12  # the legend sits in a narrow plot: long run names are shortened (the runs list has them)


def bars_title(detail: str) -> str:
    return f"KL per dimension<br><span style='font-size:8pt'>{detail}</span>"


def run_label(run, with_variant: bool = False) -> str:
    """The legend's label: "run 2: β 4"; with the variant's name when overlaid runs differ in it."""
    m, t = run.config.model, run.config.train
    beta = f"β {t.beta:g}" if uses_beta(m) else ""
    name = run.name if len(run.name) <= LEGEND_NAME_CHARS else run.name[:LEGEND_NAME_CHARS - 1] + "…"
    return f"{name}: " + " ".join(filter(None, [m.kind if with_variant or not beta else "", beta]))


class _TimedView(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that remembers how long its last repaint took (for redraw pacing)."""

    paint_seconds = 0.0

    def paintEvent(self, ev):
        t = time.perf_counter()
        super().paintEvent(ev)
        self.paint_seconds = time.perf_counter() - t


class LossPlot(QWidget):
    """Three loss plots (shared step axis) and the KL-per-dimension bars of the current run."""

    redrawn = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self.curves: dict[int, RunCurves] = {}  # run.id -> curves
        self.shown: list[int] = []  # ids of the runs drawn, in order
        self.current: int | None = None
        self.redraws = 0  # how many times new data reached the screen (the benchmark reads it)
        self._bars_drawn = None
        self._follow = True  # ranges follow the data until the user pans or zooms ("A" button: follow again)
        self._ranges: dict[str, tuple] = {}

        self.glw = _TimedView()
        self.glw.setMinimumHeight(260)
        self.glw.ci.setContentsMargins(2, 2, 2, 2)
        self.plots: dict[str, pg.PlotItem] = {}
        for i, metric in enumerate(METRICS):
            p = self.glw.addPlot(row=i // 2, col=i % 2, axisItems={"left": LossAxis("left"), "bottom": StepAxis("bottom")})
            p.setTitle(TITLES[metric], size="10pt")  # units (nats per image) in the hint above the plots
            style_step_plot(p)
            vb = p.getViewBox()
            vb.setMouseEnabled(x=True, y=False)
            vb.disableAutoRange()
            vb.sigRangeChangedManually.connect(self._on_manual_range)
            self.plots[metric] = p
        self.plots["recon"].setXLink(self.plots["total"])
        self.plots["kl"].setXLink(self.plots["total"])
        self.legend = self.plots["total"].addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.bars_plot = self.glw.addPlot(row=1, col=1)
        own_plot = pg.PlotItem(axisItems={"bottom": StepAxis("bottom")})
        self.own = OwnTermsPlot(own_plot, self.plots["total"], self.glw.ci, {"row": 2, "col": 0, "colspan": 2},
                                self._on_own_term)
        self.bars_plot.setLabel("bottom", "latent dimension")
        self.bars_plot.setLabel("left", "KL (nats)")
        self.bars_plot.setToolTip(f"Test KL of each latent dimension of the current run; grey bars are inactive "
                                  f"dimensions (KL below {ACTIVE_KL:g} nats): they carry no information")
        fix_tick_text_space(self.bars_plot, "0.05")
        self.bars_plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.bars_plot.hideButtons()
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.bars_plot.addItem(self.bars)
        give_steady_title(self.bars_plot, bars_title(BARS_TITLE_WIDEST), size="10pt")
        self._set_bars_title(None)

        self.log_y = QCheckBox("Log scale")
        self.log_y.setToolTip("Logarithmic loss axis: the first steps' large losses no longer flatten the rest")
        self.log_y.setChecked(True)
        self.log_y.toggled.connect(self._set_log)
        self.show_raw = QCheckBox("Raw steps")
        self.show_raw.setToolTip("Draw every step's loss faintly behind the smoothed line")
        self.show_raw.setChecked(True)
        self.show_raw.toggled.connect(self._set_raw_visible)
        hint = hint_label("nats/image · lines: steps (smoothed) · dots: test split",
                          "Lines: the loss of each training step, smoothed (raw steps faint behind). Dots: the "
                          "loss on the test split at the end of each epoch.")
        top = QHBoxLayout()
        top.addWidget(hint, 1)
        top.addWidget(self.show_raw)
        top.addWidget(self.log_y)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.own.row)
        # trailing: new data is drawn one timeout later, in a turn of its own rather than inside the handler
        # that received it (an epoch's end already sets the run's new weights up in every panel)
        self.throttler = QSignalThrottler(QSignalThrottler.EmissionPolicy.Trailing, parent=self)
        self.throttler.setTimeout(REDRAW_MS)
        self.throttler.triggered.connect(self._redraw)
        self._set_log(True)
        self._update_min_width()

    def _update_min_width(self) -> None:
        """pyqtgraph draws its grid past the view's edge when the view is narrower than the grid's minimum:
        keep the view at least that wide (titles and axes), and each plot column at least MIN_PLOT_WIDTH."""
        cols = [0.0, 0.0]
        for i, p in enumerate([self.plots[m] for m in METRICS] + [self.bars_plot]):
            cols[i % 2] = max(cols[i % 2], p.effectiveSizeHint(Qt.SizeHint.MinimumSize).width(), MIN_PLOT_WIDTH)
        lay = self.glw.ci.layout
        left, _top, right, _bottom = lay.getContentsMargins()
        need = sum(cols) + lay.horizontalSpacing() + left + right + 2 * self.glw.frameWidth()
        self.glw.setMinimumWidth(int(math.ceil(need)))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_min_width()

    # -- data in ---------------------------------------------------------------------------------------
    def add_run(self, run, colour: str) -> RunCurves:
        c = self.curves.get(run.id)
        if c is None:
            c = self.curves[run.id] = RunCurves(run, colour)
            c.load_history(run.history)
        return c

    def remove_run(self, run) -> None:
        c = self.curves.pop(run.id, None)
        if c is None:
            return
        self._hide(c)
        if run.id in self.shown:
            self.shown.remove(run.id)
            self.own.set_runs([self.curves[rid] for rid in self.shown])
            self._rebuild_legend()
        if self.current == run.id:
            self.current = None
        self._schedule()

    def append(self, run, rows: np.ndarray) -> None:
        c = self.curves.get(run.id)
        if c is not None:
            c.append(rows)
            self._schedule()

    def add_epoch(self, run, record: dict) -> None:
        c = self.curves.get(run.id)
        if c is not None:
            c.add_epoch(record)
            self._schedule()

    def update_changes(self, run) -> None:
        """``run``'s beta / learning rate changed: redraw its change markers from its history."""
        c = self.curves.get(run.id)
        if c is not None:
            c.update_changes()
            self._schedule()

    def change_markers(self, run, metric: str = "total") -> list[tuple[float, str]]:
        """(step, label) of the change lines drawn for ``run`` on the ``metric`` plot."""
        c = self.curves.get(run.id)
        if c is None:
            return []
        return [(line.value(), line.label.format) for m, line in c.change_lines if m == metric]

    def set_shown_runs(self, runs) -> None:
        """Overlay exactly these runs (each in its own colour)."""
        ids = [r.id for r in runs if r.id in self.curves]
        for rid in self.shown:
            if rid not in ids and rid in self.curves:
                self._hide(self.curves[rid])
        self.shown = ids
        self.own.set_runs([self.curves[rid] for rid in ids])
        self._ranges.clear()
        for rid in ids:
            self.curves[rid].drawn = -1
        self._rebuild_legend()
        # drawn in the next turn, not a throttle's timeout later: the user asked for these runs, and what the
        # other panels do for them (the explorer's encoding of the same run) comes in then
        next_turn(self, self._redraw)

    def set_current(self, run) -> None:
        """The run whose KL per dimension the bar chart shows."""
        self.current = run.id if run is not None else None
        self._bars_drawn = None
        self._schedule()

    def points(self, run) -> np.ndarray:
        """The (step, total, recon, kl) rows received for ``run``."""
        c = self.curves.get(run.id)
        return c.steps.copy() if c is not None else np.empty((0, 4))

    def drawn_points(self, run, metric: str = "total") -> int:
        """How many step points of ``run`` the ``metric`` plot holds now (0 when not shown)."""
        c = self.curves.get(run.id)
        if c is not None and metric not in METRICS:
            return self.own.drawn_points(c, metric)
        if c is None or metric not in c.items:
            return 0
        x, _y = c.items[metric][1].getOriginalDataset()
        return 0 if x is None else len(x)

    def export_png(self, path: str) -> None:
        from pyqtgraph.exporters import ImageExporter

        self._redraw()
        exporter = ImageExporter(self.glw.ci)
        exporter.parameters()["width"] = max(1200, self.glw.width())
        exporter.export(str(path))

    # -- drawing ---------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        self.throttler.throttle()

    def _items(self, c: RunCurves):
        if not c.items:
            for metric in METRICS:
                c.items[metric] = add_curve_items(self.plots[metric], c.colour, self.show_raw.isChecked())
        return c.items

    def _hide(self, c: RunCurves) -> None:
        for metric, items in c.items.items():
            for item in items:
                self.plots[metric].removeItem(item)
        c.items = {}
        self.own.hide(c)
        self._draw_changes(c, [])
        c.drawn = -1

    def _draw_changes(self, c: RunCurves, changes: list[tuple[float, str]]) -> None:
        """Dashed vertical lines in the run's colour at the steps of its changes, on the three loss plots."""
        if [(line.value(), line.label.format) for _m, line in c.change_lines[::len(METRICS)]] == changes:
            return
        for metric, line in c.change_lines:
            self.plots[metric].removeItem(line)
        c.change_lines = []
        pen = pg.mkPen(c.colour, width=1, style=Qt.PenStyle.DashLine)
        for step, text in changes:
            for metric in METRICS:
                line = pg.InfiniteLine(pos=step, angle=90, movable=False, pen=pen, label=text,
                                       labelOpts={"position": 0.92, "color": c.colour, "anchors": [(0, 0), (0, 0)]})
                line.setToolTip(f"{c.run.name}: {text} from step {step:g}")
                self.plots[metric].addItem(line, ignoreBounds=True)
                c.change_lines.append((metric, line))

    def _redraw(self) -> None:
        now = time.perf_counter()
        changed = False
        for rid in self.shown:
            c = self.curves.get(rid)
            if c is None or c.drawn == c.version:
                continue
            items = self._items(c)
            steps = c.steps
            x = steps[:, 0]
            for j, metric in enumerate(METRICS):
                raw, smooth, marks = items[metric]
                raw.setData(x, steps[:, 1 + j])
                smooth.setData(x, c.smooth[:c.n, j])
                if len(c.epochs):
                    marks.setData(c.epochs[:, 0], c.epochs[:, 1 + j])
                else:
                    marks.setData([], [])
            self.own.draw(c)
            self._draw_changes(c, c.changes)
            c.drawn = c.version
            changed = True
        if changed:
            self._fit_ranges()
        changed |= self._redraw_bars()
        if changed:
            self.redraws += 1
            cost = time.perf_counter() - now + self.glw.paint_seconds  # long curves, a busy machine: draw less often
            self.throttler.setTimeout(max(REDRAW_MS, round(1000 * REDRAW_BUDGET * cost)))
            self.redrawn.emit()

    def _fit_ranges(self) -> None:
        """Ranges that follow the data in coarse steps, so the axes (slow to redraw) change rarely."""
        vbs = [p.getViewBox() for p in self.plots.values()]
        if any(any(vb.autoRangeEnabled()) for vb in vbs):  # the user pressed a plot's "A" button
            self._follow = True
            for vb in vbs:
                vb.disableAutoRange()
            self._ranges.clear()
        if not self._follow:
            return
        shown = [self.curves[r] for r in self.shown if r in self.curves]
        xmax = max([max(c.planned, c.last_step) for c in shown] + [1.0])
        log = self.log_y.isChecked()
        for j, metric in enumerate(METRICS):
            if log:
                lo = min([c.lo_pos[j] for c in shown] + [np.inf])
                hi = max([c.hi[j] for c in shown] + [-np.inf])
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    continue
                y = (math.floor(math.log10(lo) * 4) / 4, math.ceil(math.log10(hi) * 4) / 4)
            else:
                lo = min([c.lo[j] for c in shown] + [np.inf])
                hi = max([c.hi[j] for c in shown] + [-np.inf])
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    continue
                step = 10 ** math.floor(math.log10(max(hi - lo, 1e-12))) / 2
                y = (math.floor(min(lo, 0.0) / step) * step, math.ceil(hi / step) * step)
            if y[1] <= y[0]:
                y = (y[0] - 0.5, y[0] + 0.5)
            want = (xmax, y)
            if self._ranges.get(metric) != want:
                self._ranges[metric] = want
                self.plots[metric].getViewBox().setRange(xRange=(0, xmax * 1.02), yRange=y, padding=0)

    def _on_manual_range(self, *_):
        self._follow = False

    def set_planned_steps(self, run, steps: int) -> None:
        """How many steps ``run`` will have: the x axis spans that from the start."""
        c = self.curves.get(run.id)
        if c is not None and c.planned != steps:
            c.planned = steps
            self._ranges.clear()
            c.version += 1
            self._schedule()

    def _redraw_bars(self) -> bool:
        c = self.curves.get(self.current) if self.current is not None else None
        key = (self.current, c.epoch_count if c is not None else -1)
        if key == self._bars_drawn:
            return False
        self._bars_drawn = key
        kl = c.kl_per_dim if c is not None else None
        if kl is None or not len(kl):
            self.bars.setOpts(x=[], height=[], brushes=None)
            self._set_bars_title(None)
            return True
        active = kl > ACTIVE_KL
        on, off = pg.mkBrush(c.colour), pg.mkBrush("#b0b0b0")
        self.bars.setOpts(x=np.arange(len(kl)), height=kl, width=0.8, brushes=[on if a else off for a in active],
                          pen=None)
        self.bars_plot.setXRange(-0.6, len(kl) - 0.4, padding=0)
        self.bars_plot.setYRange(0, max(float(kl.max()), ACTIVE_KL) * 1.1, padding=0)
        self._set_bars_title(f"{int(active.sum())} of {len(kl)} active · epoch {c.epoch_count}")
        self.bars_plot.setToolTip(f"{c.run.name}: test KL of each latent dimension after epoch {c.epoch_count}; "
                                  f"grey bars are inactive dimensions (KL below {ACTIVE_KL:g} nats): they carry "
                                  "no information")
        return True

    def _set_bars_title(self, detail: str | None) -> None:
        """The bar chart's title: one size whatever it says (:mod:`.steady_title`; a title that sized itself to
        its text moved the training panel's splitter at every epoch's end and every new run)."""
        self.bars_plot.setTitle(bars_title(detail or "after the first epoch"), size="10pt")

    def _rebuild_legend(self) -> None:
        """A legend only when runs are overlaid (one run's colour is in the runs list, and its label would
        cover the curve)."""
        self.legend.clear()
        if len(self.shown) < 2:
            self.legend.setVisible(False)
            return
        self.legend.setVisible(True)
        shown = [self.curves[rid] for rid in self.shown if rid in self.curves]
        several = len({c.run.config.model.kind for c in shown}) > 1
        for c in shown:
            smooth = self._items(c)["total"][1]
            self.legend.addItem(smooth, run_label(c.run, several))

    def _set_log(self, on: bool) -> None:
        for p in self.plots.values():
            p.setLogMode(x=False, y=on)
            p.getViewBox().disableAutoRange()  # setLogMode turns it on: each new curve would then be fitted
        self._ranges.clear()
        self._follow = True
        for c in self.curves.values():
            c.drawn = -1
        self._schedule()

    def _on_own_term(self) -> None:
        """Another own term was picked: redraw every shown run's."""
        for c in self.curves.values():
            c.drawn = -1
        self._schedule()

    @property
    def own_term(self) -> str | None:
        """The own loss term plotted below the others (None while no shown run has one)."""
        return self.own.term

    def set_own_term(self, name: str) -> None:
        self.own.picker.setCurrentIndex(max(self.own.picker.findData(name), 0))

    def _set_raw_visible(self, on: bool) -> None:
        self.own.set_raw_visible(on, self.curves.values())
        for c in self.curves.values():
            for items in c.items.values():
                items[0].setVisible(on)

    def refresh_labels(self) -> None:
        """Run names changed (e.g. after saving): redo the legend."""
        self._rebuild_legend()

    def stop_timer(self) -> None:
        self.throttler.cancel()
