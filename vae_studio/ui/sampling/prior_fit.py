"""The "Fit prior" box of the sampling panel: a model whose prior is fitted after training (a VQ-VAE, see
``core/code_prior.py``) cannot sample until it has one. The box says so, fits the prior in the background
(:func:`~vae_studio.workers.code_prior.fit_prior` in a :class:`~vae_studio.workers.tasks.TaskRunner`) with its
own progress bar and a small curve of the prior's NLL per epoch, and attaches the result to the run in the
workspace (``Workspace.set_code_prior``): sampling works at once, and the run counts as unsaved until saved.

It shows only for latent spaces that say ``fits_prior``; the panel asks nothing about the model itself.
"""
from __future__ import annotations

import copy

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout

from ...core.latent_space import space_for
from ...core.metrics import check_compatible
from ...workers.code_prior import fit_prior
from ...workers.tasks import Mode, runner_for
from ..widgets.compact import labelled

NO_PRIOR = ("This model has no prior over its codes yet, so it cannot sample. Fit one: a small autoregressive "
            "model of the codes its encoder gives the training images (a second stage; the first stage's "
            "weights do not change).")
HAS_PRIOR = "Samples are drawn from the fitted prior over the codes. Fit again to replace it."


class PriorFitBox(QGroupBox):
    fitted = Signal(object)  # RunEntry: its new prior is attached

    def __init__(self, workspace, tasks=None, parent=None):
        super().__init__("Prior over the codes", parent)
        self.workspace = workspace
        self.runner = runner_for(self, tasks, "code-prior", Mode.LATEST)
        self._ticket: int | None = None
        self._run_id: int | None = None  # the run whose prior is being fitted
        self.records: list = []  # PriorProgress of the fit shown in the curve

        self.explain = QLabel(NO_PRIOR)
        self.explain.setWordWrap(True)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(10)
        self.epochs.setToolTip("Passes over the training images' code grids")
        self.fit_button = QPushButton("Fit prior")
        self.fit_button.setToolTip("Fit the prior in the background on the decode device; the run then "
                                   "samples, and counts as unsaved until you save it")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: gray")
        self.plot = pg.PlotWidget(enableMenu=False)
        self.plot.setFixedHeight(110)
        pi = self.plot.getPlotItem()
        pi.setLabel("left", "NLL per epoch")
        pi.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.train_curve = pi.plot(pen=pg.mkPen("#1f77b4", width=2), name="train", symbol="o", symbolSize=4)
        self.test_curve = pi.plot(pen=pg.mkPen("#d62728", width=2), name="test", symbol="o", symbolSize=4)
        self.plot.setToolTip("The prior's negative log-likelihood of a code grid, nats per image, after each "
                             "epoch; lower is better")
        self.plot.hide()

        row = QHBoxLayout()
        row.addWidget(labelled("Epochs", self.epochs))
        row.addWidget(self.fit_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.explain)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(self.plot)

        self.fit_button.clicked.connect(self.fit)
        self.cancel_button.clicked.connect(self.cancel)
        self.runner.partial.connect(self._on_partial)
        self.runner.progress.connect(self._on_progress)
        self.runner.status.connect(self._on_status)
        self.runner.done.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        workspace.selectedRunChanged.connect(self._on_run)
        workspace.runUpdated.connect(self._on_run)
        self._on_run(workspace.selected)

    @property
    def fitting(self) -> bool:
        return self._ticket is not None

    # -- following the selected run ----------------------------------------------------------------
    @Slot(object)
    def _on_run(self, _run=None) -> None:
        run = self.workspace.selected
        space = space_for(run.model) if run is not None else None
        self.setVisible(space is not None and space.fits_prior)
        if space is None or not space.fits_prior:
            return
        self.explain.setText(HAS_PRIOR if space_for(self.workspace.decode_model(run)).has_prior else NO_PRIOR)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.fit_button.setEnabled(not self.fitting and self.workspace.selected is not None)
        self.cancel_button.setEnabled(self.fitting)

    # -- fitting -----------------------------------------------------------------------------------
    @Slot()
    def fit(self) -> bool:
        """Fit a prior for the selected run in the background; False (with the reason shown) if it cannot."""
        run, data = self.workspace.selected, self.workspace.data
        if run is None or self.fitting:
            return False
        problem = ""
        if run.status.active:
            problem = "Wait until the run has finished training: the prior models the codes of its final weights."
        elif data is None:
            problem = "Load the data set this run was trained on: the prior is fitted to its training images."
        else:
            try:
                check_compatible(run.model, data)
            except ValueError as e:
                problem = f"Cannot fit a prior: {e}"
        if problem:
            self.status.setText(problem)
            return False
        model = copy.deepcopy(self.workspace.decode_model(run))  # the worker's own copy
        self.records = []
        self.train_curve.setData([], [])
        self.test_curve.setData([], [])
        self.plot.show()
        self.progress.setValue(0)
        self._run_id = run.id
        self._ticket = self.runner.submit(fit_prior, model, data, self.epochs.value(), run.config.train.seed,
                                          str(self.workspace.decode_device))
        self.status.setText(f"Fitting the prior of {run.name} on {self.workspace.decode_device}…")
        self._update_buttons()
        return True

    @Slot()
    def cancel(self) -> None:
        if self.fitting:
            self.runner.cancel_all()
            self._ticket = None
            self.status.setText("Cancelled: the run keeps the prior it had.")
            self._update_buttons()

    @Slot(int, object)
    def _on_partial(self, ticket: int, record) -> None:
        if ticket != self._ticket:
            return
        self.records.append(record)
        x = np.array([r.epoch for r in self.records], float)
        self.train_curve.setData(x, np.array([r.train_nll for r in self.records], float))
        self.test_curve.setData(x, np.array([r.test_nll for r in self.records], float))

    @Slot(int, float)
    def _on_progress(self, ticket: int, fraction: float) -> None:
        if ticket == self._ticket:
            self.progress.setValue(int(1000 * fraction))

    @Slot(int, str)
    def _on_status(self, ticket: int, text: str) -> None:
        if ticket == self._ticket:
            self.status.setText(text)

    @Slot(int, object)
    def _on_done(self, ticket: int, prior) -> None:
        if ticket != self._ticket:
            return
        self._ticket = None
        self.progress.setValue(1000)
        entry = self.workspace.entry(self._run_id)
        if prior is None or entry is None:  # cancelled, or the run was closed meanwhile
            self._update_buttons()
            return
        last = self.records[-1] if self.records else None
        self.status.setText(f"Fitted: test NLL {last.test_nll:.1f} nats per image "
                            f"({last.test_bits_per_code:.3f} bits per code). Save the run to keep the prior."
                            if last else "Fitted. Save the run to keep the prior.")
        self.workspace.set_code_prior(entry, prior)
        self._update_buttons()
        self.fitted.emit(entry)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self._ticket = None
            self.status.setText(f"Fitting the prior failed: {message}")
            self._update_buttons()

    @Slot()
    def shutdown(self) -> None:
        self.runner.shutdown()
