"""Model quality: the selected run's metrics, and every run compared (a table and a rate-distortion plot).

State -> view: the panel follows the workspace (runs added, updated, removed, selected; data changed). This
file is the "Selected run" box (its metrics table and status line) and the computing; the "Compare runs" box
(the table of runs and the rate-distortion plot) is :class:`~vae_studio.ui.metrics.compare.CompareRunsBox`,
which shows each run's last history record without computing anything. The full metrics (IWAE bound, active
units, MIG, FactorVAE score) are computed off the GUI thread (:func:`~vae_studio.workers.metrics.compute_metrics`
in a queue-mode :class:`~vae_studio.workers.tasks.TaskRunner`, in request order), on "Compute metrics" or
automatically when a run finishes training, and cached per run and weights version.
"""
from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSpinBox, QSplitter, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from ...core.latent_space import space_for
from ...core.metrics import check_compatible, trained_steps
from ...core.variants import get_variant
from ...workers.metrics import compute_metrics
from ...workers.tasks import Mode, runner_for
from ..widgets.variant_names import model_title
from ..widgets.when_shown import WhenShown
from .compare import CompareRunsBox
from .tables import (DASH, EMPTY_TEXT, METRIC_ROWS, FitTable, compact_table, metric_rows, metric_text, metric_tip,
                     objective_rows)


class MetricsPanel(QWidget):
    metricsReady = Signal(object)  # Run: its metrics were computed (read them with metrics_for(run))
    metricsFailed = Signal(object, str)  # Run, the message shown
    computationStarted = Signal(object)  # Run: the worker began computing its metrics

    def __init__(self, workspace, parent=None, tasks=None):
        """``tasks``: the window's TaskHub (the panel makes its own runner without one)."""
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        self.workspace = workspace
        # one computation at a time, in request order; a run's newer request cancels its older one
        self.evaluator = runner_for(self, tasks, "metrics", Mode.QUEUE)
        self._pending: dict[int, tuple] = {}  # run.id -> (ticket, key) of the request in flight
        self._errors: dict[int, str] = {}
        self._build()
        self.when_shown = WhenShown(self)  # behind another tab: refilled once it is shown, not for nobody
        s = workspace
        s.runAdded.connect(self._on_runs_changed)
        s.runRenamed.connect(self._on_runs_changed)
        s.runRemoved.connect(self._on_run_removed)
        s.runUpdated.connect(self._on_run_updated)
        s.selectedRunChanged.connect(self._on_selected_changed)
        s.dataChanged.connect(self._on_data_changed)
        self.evaluator.started.connect(self._on_started)
        self.evaluator.done.connect(self._on_computed)
        self.evaluator.failed.connect(self._on_failed)
        self._refresh_all()

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.run_label = QLabel()
        self.run_label.setTextFormat(Qt.TextFormat.PlainText)
        self.iwae_k = QSpinBox()
        self.iwae_k.setRange(0, 5000)
        self.iwae_k.setValue(100)
        self.iwae_k.setPrefix("K = ")
        self.iwae_k.setToolTip("Importance samples per image for the IWAE bound (0 skips it). "
                               "More samples: a tighter bound, proportionally slower.")
        self.compute_button = QPushButton("Compute metrics")
        self.compute_button.setToolTip("Compute the test metrics of the selected run in the background")
        self.compute_button.clicked.connect(self.compute_selected)
        self.auto = QCheckBox("Auto")
        self.auto.setChecked(True)
        self.auto.setToolTip("Compute the metrics of a run automatically when its training finishes")
        self.run_label.setStyleSheet("font-weight: bold")
        top = QHBoxLayout()
        top.addWidget(QLabel("IWAE"))
        top.addWidget(self.iwae_k)
        top.addWidget(self.auto)
        top.addStretch(1)
        top.addWidget(self.compute_button)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: gray")

        self._metric_rows = METRIC_ROWS  # gui13: the rows of the selected run's latent space
        self.metrics_table = FitTable(len(METRIC_ROWS), 2)
        self.metrics_table.setHorizontalHeaderLabels(["Metric", "Value (test split)"])
        self.metrics_table.verticalHeader().setVisible(False)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        for r, (label, _, tip) in enumerate(METRIC_ROWS):
            item = QTableWidgetItem(label)
            item.setToolTip(tip)
            self.metrics_table.setItem(r, 0, item)
            self.metrics_table.setItem(r, 1, QTableWidgetItem(DASH))
        compact_table(self.metrics_table)
        self.metrics_table.set_rows_shown(len(METRIC_ROWS), 4)

        selected = QGroupBox("Selected run")
        sl = QVBoxLayout(selected)
        sl.addWidget(self.run_label)
        sl.addLayout(top)
        sl.addWidget(self.status)
        sl.addWidget(self.metrics_table)

        self.compare = CompareRunsBox(self.workspace, self.metrics_for)
        # the compare box's table and plot, also reachable from the panel
        self.compare_table, self.plot = self.compare.table, self.compare.plot
        self.points, self.selected_point = self.compare.points, self.compare.selected_point

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: gray; font-size: 14px")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(selected)
        self.splitter.addWidget(self.compare)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.splitter, 1)

    # -- cached metrics ----------------------------------------------------------------------------
    def metrics_for(self, run) -> dict | None:
        """The computed metrics of ``run`` for its current weights, or None."""
        metrics, current = self._any_metrics_for(run)
        return metrics if current else None

    def _any_metrics_for(self, run) -> tuple[dict | None, bool]:
        """(metrics, current): the run's last computed metrics (kept by the workspace, saved with the run),
        and whether they are for its current weights."""
        return self.workspace.current_metrics(run)

    # -- computing ---------------------------------------------------------------------------------
    @Slot()
    def compute_selected(self) -> None:
        run = self.workspace.selected
        if run is not None:
            self.compute(run)

    def compute(self, run) -> bool:
        """Ask the worker for ``run``'s metrics; False (with the reason in the status line) if it cannot."""
        run = self.workspace.entry(run)
        if run is None:
            return False
        data = self.workspace.data
        if data is None:
            self._errors[run.id] = "Load the data set this run was trained on to compute its metrics"
            self._refresh_selected()
            return False
        model = self.workspace.decode_model(run)
        try:
            check_compatible(model, data)
        except ValueError as e:
            self._errors[run.id] = f"Cannot compute metrics: {e}"
            self._refresh_selected()
            return False
        key = (run.id, self.workspace.weights_version(run), self.iwae_k.value(), data.name)
        if self._pending.get(run.id, (None, None))[1] == key:
            return True  # this very request is in flight
        self.evaluator.cancel(run.id)  # the run's request for earlier weights (or settings), if any
        self._errors.pop(run.id, None)
        t = run.config.train
        # a private copy: the worker may use it while the GUI decodes with the workspace's model
        ticket = self.evaluator.submit(compute_metrics, copy.deepcopy(model), data, t.recon, t.beta, t.gamma,
                                       self.iwae_k.value(), t.seed, copy.deepcopy(run.config),
                                       trained_steps(run.history), key=run.id)
        self._pending[run.id] = (ticket, key)
        self._refresh_selected()
        return True

    def _request(self, ticket: int):
        """(run, key) of the request in flight with ``ticket``, or (None, None)."""
        for run in self.workspace.runs:
            ticket_key = self._pending.get(run.id)
            if ticket_key is not None and ticket_key[0] == ticket:
                return run, ticket_key[1]
        return None, None

    @Slot(int)
    def _on_started(self, ticket: int) -> None:
        run, key = self._request(ticket)
        if run is not None and run is self.workspace.selected:
            self.status.setText(f"Computing metrics of {run.name or 'the run'}\u2026 (IWAE with K={key[2]}, "
                                "active units, disentanglement when the data has known factors)")
        if run is not None:
            self.computationStarted.emit(run)

    @Slot(int, object)
    def _on_computed(self, ticket: int, res) -> None:
        run, key = self._request(ticket)
        if run is None or res is None:
            return  # removed, or a newer request replaced this one
        del self._pending[run.id]
        self.workspace.set_metrics(run, dict(res, data_name=key[3]), weights_version=key[1])
        self._refresh_all()
        self.metricsReady.emit(run)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        run, _key = self._request(ticket)
        if run is None:
            return
        del self._pending[run.id]
        self._errors[run.id] = f"Computing the metrics failed: {message}"
        self._refresh_selected()
        self.metricsFailed.emit(run, self._errors[run.id])

    # -- workspace signals ---------------------------------------------------------------------------
    @Slot(object)
    def _on_runs_changed(self, _run=None) -> None:
        self.when_shown.run(self._refresh_all)

    @Slot(object)
    def _on_run_removed(self, run) -> None:
        if self._pending.pop(run.id, None) is not None:
            self.evaluator.cancel(run.id)
        self._errors.pop(run.id, None)
        self.when_shown.run(self._refresh_all)

    @Slot(object)
    def _on_run_updated(self, run) -> None:
        if self.auto.isChecked() and run.history.status == "finished" and self.metrics_for(run) is None:
            self.compute(run)  # replaces a request for earlier weights; no-op if this one is in flight
        self.when_shown.run(self._refresh_all)

    @Slot(object)
    def _on_selected_changed(self, _run) -> None:
        self.when_shown.run(self._refresh_all)

    @Slot(object)
    def _on_data_changed(self, _data) -> None:
        self._errors.clear()
        self.when_shown.run(self._refresh_selected)

    # -- views -------------------------------------------------------------------------------------
    def _refresh_all(self) -> None:
        has_runs = bool(self.workspace.runs)
        self.empty_label.setVisible(not has_runs)
        self.splitter.setVisible(has_runs)
        self.compare.refresh()
        self._refresh_selected()

    def _refresh_selected(self) -> None:
        run = self.workspace.selected
        self.compute_button.setEnabled(run is not None)
        # -- gui13: the metric rows are those of the run's latent space (core/latent_space.py: metrics) ----
        metrics = space_for(run.model).metrics if run is not None else ()
        self._set_metric_rows(metric_rows(metrics) if run is not None else METRIC_ROWS)
        self.iwae_k.setEnabled(run is None or "iwae_nll" in metrics)  # no IWAE bound for a code grid
        if run is None:
            self.run_label.setText("No run selected")
            self.status.setText("")
            for r in range(len(self._metric_rows)):
                self.metrics_table.item(r, 1).setText(DASH)
            self._show_objective_rows([])
            return
        self.run_label.setText(f"{run.name or 'unnamed run'}  ({model_title(run.config.model)}, "
                               f"\u03b2 = {run.config.train.beta:g}, "
                               f"{run.history.status})")
        res, current = self._any_metrics_for(run)
        last = run.history.last or {}
        values = dict(res) if res else {key: last.get(f"test_{key}") for _, key, _ in self._metric_rows}
        missing = [label for label, key, _ in self._metric_rows if values.get(key) is None]
        for r, (_, key, _) in enumerate(self._metric_rows):
            item = self.metrics_table.item(r, 1)
            item.setText(metric_text(key, values, res))
            item.setToolTip(metric_tip(key, values))
        # -- end gui13 ----------------------------------------------------------------------------------
        if res is None:  # the run's own objective on the test split, from the last epoch
            values.update({"objective_total": last.get("test_total"),
                           **{k[len("test_"):]: v for k, v in last.items() if k.startswith("test_")}})
        self._show_objective_rows(objective_rows(get_variant(run.config.model.kind), values,
                                                 shown=[key for _, key, _ in self._metric_rows]))  # gui13
        if run.id in self._errors:
            self.status.setText(self._errors[run.id])
        elif run.id in self._pending:
            self.status.setText(f"Computing metrics of {run.name or 'the run'}\u2026")
        elif res is not None and current:
            self.status.setText(f"Computed on {res.get('n', 'the')} test images of "
                                f"{res.get('data_name') or 'the data set'}"
                                + (f"; MIG and FactorVAE on {res.get('disentanglement_n')} images of the whole "
                                   "data set" if res.get("mig") is not None else "") + ".")
        elif res is not None:
            self.status.setText("These metrics are for earlier weights: press Compute metrics to update them.")
        elif last:
            # gui13: which rows wait for Compute metrics depends on the latent space
            self.status.setText("The values shown are from the last epoch; press Compute metrics for "
                                + (", ".join(missing) if missing else "the rest") + ".")
        else:
            self.status.setText("No epoch finished yet: train the run, then compute its metrics.")

    # -- gui13 --------------------------------------------------------------------------------------------
    def _set_metric_rows(self, rows) -> None:
        """Label the first rows of the metrics table with ``rows`` (label, key, tooltip); the objective's own
        rows follow them."""
        self._metric_rows = tuple(rows)
        table = self.metrics_table
        if table.rowCount() < len(rows):
            table.setRowCount(len(rows))
        for r, (label, _, tip) in enumerate(rows):
            for c, text in enumerate((label, DASH)):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(r, c, item)
                if c == 0:
                    item.setText(text)
                    item.setToolTip(tip)
    # -- end gui13 ----------------------------------------------------------------------------------------

    def _show_objective_rows(self, rows: list[tuple[str, str, str]]) -> None:
        """The run's own objective below the fixed metrics: one row for its loss, one per own term."""
        table, first = self.metrics_table, len(self._metric_rows)  # gui13: rows of the latent space
        table.setRowCount(first + len(rows))
        for r, (label, text, tip) in enumerate(rows, start=first):
            for c, value in enumerate((label, text)):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(r, c, item)
                item.setText(value)
                item.setToolTip(tip)
        table.set_rows_shown(table.rowCount(), 4)

    def plotted_runs(self) -> list:
        """The runs that have a point in the rate-distortion plot (those with a finished epoch)."""
        return self.compare.plotted_runs()

    @property
    def _labels(self) -> list:
        """The labels of the plot's points (the compare box's)."""
        return self.compare.labels

    # -- shutting down -----------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Stop the metrics thread (idempotent); the main window's TaskHub also does it when it closes."""
        self.evaluator.shutdown()
        self._pending.clear()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
