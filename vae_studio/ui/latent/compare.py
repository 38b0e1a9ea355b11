"""Two runs side by side: their scatters aligned, and one test image decoded by both.

Each scatter is the first two principal components of a run's test-split means; the second run's scatter is
turned onto the first's by orthogonal Procrustes (a rotation or reflection, no rescaling), so that the same
images sit in comparable places (:func:`~vae_studio.workers.comparison.encode_and_align`, in a latest-wins
task runner). Clicking a point in either scatter (or typing its index) makes that test image the probe
image: it is ringed in both scatters, and its mean under each run is decoded beside the original.
"""
from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDialog, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from ...app.comparison import comparison_problem
from ...core.latent import decode, to_uint8
from ...workers.comparison import Comparison, encode_and_align
from ...workers.tasks import Mode, runner_for
from ..widgets.image_pane import ImagePane
from .scatter import LatentScatter


class CompareWindow(QDialog):
    compared = Signal()  # both scatters drawn for the chosen runs

    def __init__(self, workspace, tasks=None, parent=None):
        super().__init__(parent)
        self.setObjectName("compareWindow")
        self.setWindowTitle("Compare two runs")
        self.setModal(False)
        self.workspace = workspace
        self.comparison: Comparison | None = None
        self._pair = (None, None)  # the runs of the comparison shown or requested
        self.encoder = runner_for(self, tasks, "compare", Mode.LATEST)
        self.encoder.done.connect(self._on_compared)
        self.encoder.failed.connect(self._on_failed)

        self.run_a, self.run_b = QComboBox(), QComboBox()
        for combo, side in ((self.run_a, "left"), (self.run_b, "right")):
            combo.setToolTip(f"The run shown on the {side}; both must be trained on the same data")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: gray")
        top = QHBoxLayout()
        top.addWidget(QLabel("Left"))
        top.addWidget(self.run_a)
        top.addWidget(QLabel("Right"))
        top.addWidget(self.run_b)
        top.addWidget(self.status, 1)

        self.scatter_a, self.scatter_b = LatentScatter(), LatentScatter()
        self.title_a, self.title_b = QLabel(), QLabel()
        grid = QGridLayout()
        for col, (title, scatter) in enumerate(((self.title_a, self.scatter_a), (self.title_b, self.scatter_b))):
            scatter.probe.setVisible(False)  # no probe to drag here: a test image is the probe
            scatter.setToolTip("Test split, PCA of this run's means (the right one turned onto the left "
                               "one). Click a point to decode that image with both runs.")
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(title, 0, col)
            grid.addWidget(scatter, 1, col)
            scatter.pointClicked.connect(self.show_image)
        grid.setRowStretch(1, 1)

        self.index = QSpinBox()
        self.index.setToolTip("The test image decoded by both runs (click a point to choose it)")
        self.index.setMaximum(0)
        self.original = ImagePane("Original", "no image", min_size=80)
        self.decoded_a, self.decoded_b = ImagePane("Left run", "", 80), ImagePane("Right run", "", 80)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Test image #"))
        bottom.addWidget(self.index)
        for pane in (self.original, self.decoded_a, self.decoded_b):
            bottom.addWidget(pane, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid, 3)
        layout.addLayout(bottom, 1)

        self._fill_runs()
        self.run_a.currentIndexChanged.connect(self._request)
        self.run_b.currentIndexChanged.connect(self._request)
        self.index.valueChanged.connect(self.show_image)
        for sig in (workspace.runAdded, workspace.runRemoved, workspace.runRenamed):
            sig.connect(self._on_runs_changed)
        workspace.dataChanged.connect(self._request)
        self.resize(1100, 700)
        self._request()

    # -- runs --------------------------------------------------------------------------------------
    def _fill_runs(self) -> None:
        runs = self.workspace.runs
        keep = (self.run_a.currentData(), self.run_b.currentData())
        for combo in (self.run_a, self.run_b):
            combo.blockSignals(True)
            combo.clear()
            for r in runs:
                b = r.config.train.beta
                combo.addItem(f"{r.name} (β={b:g}, z={r.config.model.latent_dim})", r.id)
            combo.blockSignals(False)
        selected = self.workspace.selected
        first = keep[0] if keep[0] is not None else (selected.id if selected is not None else None)
        self._choose(self.run_a, first, 0)
        others = [r.id for r in runs if r.id != self.run_a.currentData()]
        self._choose(self.run_b, keep[1] if keep[1] is not None else (others[0] if others else None), 1)

    @staticmethod
    def _choose(combo: QComboBox, run_id, fallback: int) -> None:
        combo.blockSignals(True)
        i = combo.findData(run_id) if run_id is not None else -1
        combo.setCurrentIndex(i if i >= 0 else min(fallback, combo.count() - 1))
        combo.blockSignals(False)

    def choose_runs(self, run_a, run_b) -> None:
        """Compare these two runs (entries or ids), as choosing them in the two lists does."""
        self._choose(self.run_a, getattr(run_a, "id", run_a), 0)
        self._choose(self.run_b, getattr(run_b, "id", run_b), 1)
        self._request()

    def runs(self):
        return self.workspace.entry(self.run_a.currentData()), self.workspace.entry(self.run_b.currentData())

    @Slot(object)
    def _on_runs_changed(self, _run) -> None:
        self._fill_runs()
        if self.runs() != self._pair:
            self._request()

    # -- encoding ----------------------------------------------------------------------------------
    @Slot()
    def _request(self, *_args) -> None:
        a, b = self.runs()
        data = self.workspace.data
        self.comparison = None
        self._pair = (a, b)
        self.encoder.cancel_all()
        for scatter in (self.scatter_a, self.scatter_b):
            scatter.clear_points()
        for title, run in ((self.title_a, a), (self.title_b, b)):
            title.setText(run.name if run is not None else "")
        problem = comparison_problem(a, b, data)
        if problem:
            self.status.setText(problem)
            self._show_images(None)
            return
        models = [copy.deepcopy(self.workspace.decode_model(r)) for r in (a, b)]
        self.encoder.submit(encode_and_align, *models, data.test_x, data.test_y)
        self.status.setText(f"Encoding {len(data.test_x):,} test images with both runs…")

    @Slot(int, object)
    def _on_compared(self, _ticket: int, result: Comparison | None) -> None:
        if result is None:
            return
        self.comparison = result
        a, b = self._pair
        names = self._class_names()
        labels = result.a.labels
        self.scatter_a.set_points(result.xy_a, labels, names)
        self.scatter_b.set_points(result.xy_b, labels, names)
        ea, eb = (100 * result.explained_a.sum(), 100 * result.explained_b.sum())
        self.title_a.setText(f"{a.name}: PCA of its means ({ea:.0f}% of variance)")
        self.title_b.setText(f"{b.name}: PCA of its means ({eb:.0f}%), turned onto {a.name}'s"
                             + (" (mirrored)" if result.alignment.reflects else ""))
        self.status.setText("Same images, comparable places: the right view is rotated (orthogonal "
                            "Procrustes) to match the left one. Click a point to decode it with both.")
        self.index.setMaximum(max(0, len(result.xy_a) - 1))
        self.show_image(self.index.value())
        self.compared.emit()

    @Slot(int, str)
    def _on_failed(self, _ticket: int, message: str) -> None:
        self.status.setText(f"Could not encode the test split: {message}")

    def _class_names(self) -> list[str]:
        a, _ = self._pair
        names = list(a.class_names) if a is not None else []
        data = self.workspace.data
        return names or (list(data.class_names) if data is not None else [])

    # -- the probe image ---------------------------------------------------------------------------
    @Slot(int)
    def show_image(self, index: int) -> None:
        """Test image ``index``: ringed in both scatters, decoded from its mean under each run."""
        if self.index.value() != index:
            self.index.blockSignals(True)
            self.index.setValue(index)
            self.index.blockSignals(False)
        self._show_images(index if self.comparison is not None else None)

    def _show_images(self, index: int | None) -> None:
        c, data = self.comparison, self.workspace.data
        if index is None or c is None or data is None or not 0 <= index < len(c.xy_a):
            for pane in (self.original, self.decoded_a, self.decoded_b):
                pane.set_image(None)
            self.scatter_a.set_picked(None)
            self.scatter_b.set_picked(None)
            return
        self.scatter_a.set_picked(c.xy_a[index])
        self.scatter_b.set_picked(c.xy_b[index])
        self.original.set_image(data.test_x[index].permute(1, 2, 0).numpy())
        label = int(c.a.labels[index]) if c.a.labels is not None else None
        for pane, run, enc in ((self.decoded_a, self._pair[0], c.a), (self.decoded_b, self._pair[1], c.b)):
            model = self.workspace.decode_model(run)
            cls = label if model.conditional else None
            pane.set_image(to_uint8(decode(model, enc.mu[index][None], cls))[0])
            pane.set_title(f"{run.name} (β={run.config.train.beta:g})")

    def decoded_images(self):
        """The two decodings shown (left, right), uint8 arrays or None."""
        return self.decoded_a.data(), self.decoded_b.data()

    # -- closing -----------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.encoder.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
