"""The latent explorer's two control rows: the axes bar above the scatter and the probe bar below it.

Both are views: they show a :class:`~vae_studio.app.explorer.LatentExplorer` and report what the user chose;
the panel forwards that to the explorer and redraws.
"""
from __future__ import annotations

import math

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QPushButton, QWidget

from ...app.explorer import DIMS, PCA_MODE, TSNE_MODE, UMAP_MODE, LatentExplorer
from ..widgets.compact import ElidedComboBox, ElidedLabel, FlowLayout, compact_combo, labelled, row_widget

DIM_ITEM_WIDEST = "z63  (KL 99.99)"  # the dimension lists are as wide as this text


class AxesBar(QWidget):
    """What the axes show: two latent dimensions (listed most active first) or the first two principal
    components, with a button to refit them. One line when there is room, wrapped when narrow."""

    projectionChosen = Signal(str)  # DIMS or PCA_MODE
    axisChosen = Signal(int, object)  # axis (0: horizontal, 1: vertical), latent dimension
    refitClicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.projection = ElidedComboBox(min_chars=10)
        self.projection.addItem("Two latent dimensions", DIMS)
        self.projection.addItem("PCA of the means", PCA_MODE)
        # t-SNE / UMAP (approximate views): see core/embedding.py
        self.projection.addItem("t-SNE of the means (approximate)", TSNE_MODE)
        self.projection.addItem("UMAP of the means (approximate)", UMAP_MODE)
        self.approximate = QLabel("approximate view")
        self.approximate.setStyleSheet("color: #c07000")
        self.approximate.setToolTip("t-SNE and UMAP have no inverse: the probe's latent vector is the "
                                    "inverse-distance-weighted mean of the latent means of the 8 points nearest "
                                    "to it on the plot, and distances on the plot are not latent distances. "
                                    "PCA and two latent dimensions are the exact views.")
        self.approximate.setVisible(False)
        self.projection.setToolTip("What the axes show: two latent dimensions of your choice (listed most "
                                   "active first, by KL), or the first two principal components of the "
                                   "test split's means")
        self.x_dim, self.y_dim = QComboBox(), QComboBox()
        for c, axis in ((self.x_dim, "horizontal"), (self.y_dim, "vertical")):
            c.setToolTip(f"Latent dimension on the {axis} axis (most active first; KL in nats per image)")
            # one width whether the items show their KL or not: the row does not move at a run's first epoch
            fm = c.fontMetrics()
            compact_combo(c, math.ceil(fm.horizontalAdvance(DIM_ITEM_WIDEST) / fm.horizontalAdvance("x")))
        self.refit_pca = QPushButton("Refit")
        self.refit_pca.setToolTip("Fit the principal components (or the t-SNE / UMAP layout) again on the "
                                  "current means. The fit is kept while the run trains, so that the view "
                                  "stays put.")
        self.refit_pca.setVisible(False)
        self.x_label, self.y_label = QLabel("x"), QLabel("y")
        self._x_box, self._y_box = row_widget(self.x_label, self.x_dim), row_widget(self.y_label, self.y_dim)
        row = FlowLayout(self)
        row.addWidget(labelled("Axes", self.projection))
        row.addWidget(self._x_box)
        row.addWidget(self._y_box)
        row.addWidget(self.refit_pca)
        row.addWidget(self.approximate)
        self._items_key = None  # what the dimension combos list now (refilled only when it changes)

        self.projection.currentIndexChanged.connect(self._on_projection_changed)
        self.x_dim.currentIndexChanged.connect(self._on_x_dim_changed)
        self.y_dim.currentIndexChanged.connect(self._on_y_dim_changed)
        self.refit_pca.clicked.connect(self.refitClicked)

    def show_explorer(self, ex: LatentExplorer) -> None:
        """Show the explorer's projection, its dimensions in KL order and the two on the axes."""
        self.projection.blockSignals(True)
        for i in range(1, self.projection.count()):
            self.projection.model().item(i).setEnabled(ex.dim > 1)
        self.projection.setCurrentIndex(self.projection.findData(ex.mode))
        self.projection.blockSignals(False)
        fitted = ex.mode != DIMS  # PCA, t-SNE or UMAP: no dimensions to choose, a fit to redo
        for w in (self.x_label, self.x_dim, self.y_label, self.y_dim, self._x_box, self._y_box):
            w.setVisible(not fitted)
        self.refit_pca.setVisible(fitted)
        self.approximate.setVisible(ex.approximate)
        self.y_dim.setEnabled(ex.dim > 1)
        order, kl = ex.order, ex.kl
        items = [(f"z{i}" + (f"  (KL {kl[i]:.2f})" if kl is not None else ""), i) for i in order]
        key = (tuple(items), ex.dims[1] is None)
        refill = key != self._items_key  # else only the selection changes (no clear() inside its own signal)
        self._items_key = key
        for combo, sel in ((self.x_dim, ex.dims[0]), (self.y_dim, ex.dims[1])):
            combo.blockSignals(True)
            if refill:
                combo.clear()
                for text, i in items:
                    combo.addItem(text, i)
                if sel is None:
                    combo.addItem("(none)", None)
            combo.setCurrentIndex(combo.findData(sel))
            combo.blockSignals(False)

    @Slot(int)
    def _on_projection_changed(self, _i: int) -> None:
        self.projectionChosen.emit(self.projection.currentData())

    @Slot(int)
    def _on_x_dim_changed(self, _i: int) -> None:
        self.axisChosen.emit(0, self.x_dim.currentData())

    @Slot(int)
    def _on_y_dim_changed(self, _i: int) -> None:
        self.axisChosen.emit(1, self.y_dim.currentData())


class ProbeBar(QWidget):
    """The probe's coordinates (typed values move it), the class a conditional model decodes with, and where
    the anchor comes from, with a button to reset it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.x_spin, self.y_spin = _coord_spin(), _coord_spin()
        self.x_name, self.y_name = QLabel("x"), QLabel("y")
        for name in (self.x_name, self.y_name):  # one width for "x", "z3" and "PC1": the row stays put when the axes change
            name.setMinimumWidth(name.fontMetrics().horizontalAdvance("(none)"))
        self.class_label = QLabel("Class")
        self.class_combo = ElidedComboBox(min_chars=8)
        self.class_combo.setToolTip("The class a conditional VAE decodes the probe and the traversal with")
        self.anchor_label = ElidedLabel("")
        self.anchor_label.setToolTip("The latent dimensions not on the axes come from the anchor: the mean "
                                     "of the last point clicked, a vector sent by another panel, or zero")
        self.reset_anchor = QPushButton("Reset anchor")
        self.reset_anchor.setToolTip("Set the dimensions not on the axes to zero (the prior's mean)")
        row = FlowLayout(self)
        row.addWidget(row_widget(QLabel("Probe"), self.x_name, self.x_spin, self.y_name, self.y_spin))
        self._class_box = row_widget(self.class_label, self.class_combo)
        row.addWidget(self._class_box)
        row.addWidget(self.anchor_label)
        row.addWidget(self.reset_anchor)

    def show_coords(self, x: float, y: float) -> None:
        for spin, v in ((self.x_spin, x), (self.y_spin, y)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)

    def show_explorer(self, ex: LatentExplorer) -> None:
        """The axes' short names, the probe's coordinates and the anchor's source."""
        _, (x, y) = ex.axis_names()
        self.x_name.setText(x)
        self.y_name.setText(y)
        self.y_spin.setEnabled(ex.dim > 1)
        self.show_coords(*ex.probe_xy)
        self.anchor_label.setText(f"anchor: {ex.anchor_text}")

    def set_classes(self, names: list[str] | None) -> None:
        """The classes of a conditional model (None: not conditional, the class row is hidden)."""
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems(names or [])
        self.class_combo.blockSignals(False)
        for w in (self.class_label, self.class_combo, self._class_box):
            w.setVisible(names is not None)

    def show_class(self, label: int | None) -> None:
        """Select class ``label`` without reporting it (the panel decodes once itself)."""
        if label is not None and 0 <= label < self.class_combo.count():
            self.class_combo.blockSignals(True)
            self.class_combo.setCurrentIndex(int(label))
            self.class_combo.blockSignals(False)

    def chosen_class(self) -> int:
        return max(self.class_combo.currentIndex(), 0)


def _coord_spin() -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(-1000.0, 1000.0)
    s.setDecimals(3)
    s.setSingleStep(0.1)
    s.setKeyboardTracking(False)
    s.setToolTip("The probe's coordinate on this axis: type a value to move it")
    return s

