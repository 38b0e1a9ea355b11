"""The metrics panel's "Compare runs" box: a table with one row per run (a click selects the run) and the
runs' rate-distortion plot (KL against reconstruction, each point labelled with its beta).

Both read each run's last history record (test recon, KL, -ELBO, beta) and, where computed for the current
weights, its metrics (``metrics_for``, given by the panel), so they show without computing anything. The
panel calls :meth:`CompareRunsBox.refresh` whenever the runs, the selection or a run's metrics change.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QAbstractItemView, QGroupBox, QHeaderView, QTableWidgetItem, QVBoxLayout

from ..widgets.variant_names import beta_text, model_title, uses_beta
from .tables import COMPARE_COLUMNS, COMPARE_TIPS, DASH, FitTable, axis_span, compact_table, fmt

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class CompareRunsBox(QGroupBox):
    def __init__(self, workspace, metrics_for, parent=None):
        """``metrics_for(run)``: the run's metrics for its current weights, or None."""
        super().__init__("Compare runs", parent)
        self.workspace = workspace
        self.metrics_for = metrics_for
        self.labels: list[pg.TextItem] = []  # the plot's point labels
        self._rows: list = []  # the runs in table order

        self.table = FitTable(0, len(COMPARE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COMPARE_COLUMNS))
        for c, tip in enumerate(COMPARE_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        compact_table(self.table)

        self.plot = pg.PlotWidget(enableMenu=False)
        self.plot.setMinimumHeight(150)
        pi = self.plot.getPlotItem()
        pi.setTitle("Rate\u2013distortion of the runs")
        pi.setLabel("bottom", "Rate: KL (nats per image)")
        pi.setLabel("left", "Distortion: recon (nats)")
        pi.showGrid(x=True, y=True, alpha=0.2)
        for side in ("bottom", "left"):
            pi.getAxis(side).enableAutoSIPrefix(False)  # nats stay nats, no "(x0.001)"
        pi.getViewBox().setDefaultPadding(0.15)  # room for the labels of the outermost points
        self.points = pg.ScatterPlotItem(size=10, pen=None, brush=pg.mkBrush(80, 140, 230, 220))
        self.selected_point = pg.ScatterPlotItem(size=15, pen=pg.mkPen(255, 170, 0, width=2), brush=None)
        self.plot.addItem(self.points)
        self.plot.addItem(self.selected_point)
        # invisible: spans at least axis_span() of the points, so auto-range (and the "A" button) never
        # zooms into a zero-width range
        self._span_item = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.plot.addItem(self._span_item)
        self.plot.setToolTip("One point per run: its last epoch's test reconstruction against its KL, "
                             "labelled with beta. Down and to the left is better; a higher beta moves a "
                             "run left (less rate) and up (more distortion)")

        cl = QVBoxLayout(self)
        cl.addWidget(self.table)
        cl.addWidget(self.plot, 1)

    def refresh(self) -> None:
        self._refresh_table()
        self._refresh_plot()

    @Slot()
    def _on_table_selection(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) == 1:
            r = rows.pop()
            if 0 <= r < len(self._rows) and self._rows[r] is not self.workspace.selected:
                self.workspace.select_run(self._rows[r])

    def _refresh_table(self) -> None:
        table = self.table
        self._rows = list(self.workspace.runs)
        table.blockSignals(True)
        table.setRowCount(len(self._rows))
        for r, run in enumerate(self._rows):
            last = run.history.last or {}
            res = self.metrics_for(run)
            t = run.config.train
            cells = [run.name or f"run {r + 1}", model_title(run.config.model), beta_text(run.config), f"{t.gamma:g}",
                     fmt(last.get("test_neg_elbo")),
                     fmt(last.get("test_recon")), fmt(last.get("test_kl")),
                     fmt(res.get("iwae_nll")) if res else DASH,
                     DASH if not res or res.get("active_units") is None else str(res["active_units"]),
                     fmt(res.get("mig"), 3) if res else DASH]
            for c, text in enumerate(cells):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(r, c, item)
                item.setText(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter
                                      | (Qt.AlignmentFlag.AlignLeft if c == 0 else Qt.AlignmentFlag.AlignRight))
                item.setToolTip("" if res or c < 7 else "Select the run and press Compute metrics")
        rows = min(max(len(self._rows), 1), 6)
        table.set_rows_shown(rows, 2, table.horizontalScrollBar().sizeHint().height())  # room for a scroll bar
        sel = self._rows.index(self.workspace.selected) if self.workspace.selected in self._rows else -1
        table.clearSelection()
        if sel >= 0:
            table.selectRow(sel)
        table.blockSignals(False)

    def plotted_runs(self) -> list:
        """The runs that have a point in the rate-distortion plot (those with a finished epoch)."""
        return [run for run in self.workspace.runs if run.history.last]

    def _refresh_plot(self) -> None:
        runs = self.plotted_runs()
        xs = np.array([run.history.last.get("test_kl", np.nan) for run in runs], dtype=float)
        ys = np.array([run.history.last.get("test_recon", np.nan) for run in runs], dtype=float)
        self.points.setData(x=xs, y=ys)
        sel = [i for i, run in enumerate(runs) if run is self.workspace.selected]
        self.selected_point.setData(x=xs[sel], y=ys[sel])
        xspan, yspan = axis_span(xs), axis_span(ys)
        if xspan is not None and yspan is not None:
            self._span_item.setData(x=np.array(xspan), y=np.array(yspan))
        else:
            self._span_item.setData(x=np.zeros(0), y=np.zeros(0))
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        several = len({run.config.model.kind for run in runs}) > 1  # then each label names its variant
        for run, x, y in zip(runs, xs, ys):
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            beta = run.history.last.get("beta", run.config.train.beta)
            m = run.config.model
            text = " ".join(filter(None, [m.kind if several or not uses_beta(m) else "",
                                          f"\u03b2={beta:g}" if uses_beta(m) else ""]))
            label = pg.TextItem(text, anchor=(-0.15, 1.0), color=pg.getConfigOption("foreground"))
            label.setPos(float(x), float(y))
            self.plot.addItem(label)
            self.labels.append(label)
