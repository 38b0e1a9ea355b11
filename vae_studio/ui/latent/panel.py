"""The latent explorer: scatter of the test split's means, a draggable probe, and a traversal grid.

State -> view: the panel follows the workspace (selected run, new weights, data, decode device, user
points, probe requests) and reports what the user does (``set_probe``, ``pick_point``).

The probe is a full latent vector ``z``. The marker gives its two shown coordinates (two latent
dimensions, or the first two principal components of the means); the *anchor* gives the rest: the mean of
the last data point clicked, a vector another panel asked for, or zero. Whenever the projection changes
(other axes, PCA on or off, a refreshed scatter) the probe's vector is kept and the marker moves to its
new projection. Decoding the probe runs straight on the GUI thread (well under a millisecond for an MLP);
encoding the test split (:func:`~vae_studio.workers.encoding.encode_split`) runs in a latest-wins
:class:`~vae_studio.workers.tasks.TaskRunner`.
"""
from __future__ import annotations

import copy

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton,
                               QSplitter, QStackedLayout, QVBoxLayout, QWidget)

from ...core.latent import PCA, decode, fit_pca, to_uint8
from ...workers.encoding import EncodedSplit, encode_split
from ...workers.tasks import Mode, runner_for
from ..widgets.compact import ElidedComboBox, ElidedLabel, FlowLayout, labelled, row_widget
from ..widgets.image_pane import ImagePane
from .scatter import LatentScatter
from .traversal import TraversalView

EMPTY_TEXT = "Train a model or open a run to explore its latent space"
DIMS, PCA_MODE = "dims", "pca"


class LatentPanel(QWidget):
    scatterUpdated = Signal()  # all new points are drawn (after an encoding or a projection change)

    def __init__(self, workspace, parent=None, tasks=None):
        """``tasks``: the window's TaskHub (the panel makes its own runner without one)."""
        super().__init__(parent)
        self.setObjectName("latentPanel")
        self.workspace = workspace
        self._run = None
        self._dim = 0
        self._mu = self._logvar = self._labels = None
        self._kl: np.ndarray | None = None
        self._pca: PCA | None = None
        self._anchor = np.zeros(0, np.float32)
        self._anchor_index: int | None = None
        self._z = np.zeros(0, np.float32)
        self.encoder = runner_for(self, tasks, "encode", Mode.LATEST)  # encodes the test split
        self._encoding_epoch = 0
        self._last_dims: tuple = (None, None)
        self._dims_chosen = False  # the user picked the axes (else they follow the KL order)
        self._build()
        s = workspace
        s.selectedRunChanged.connect(self._on_selected_run_changed)
        s.runUpdated.connect(self._on_run_updated)
        s.dataChanged.connect(self._on_data_changed)
        s.decodeDeviceChanged.connect(self._on_decode_device_changed)
        s.probeRequested.connect(self._on_probe_requested)
        s.userPointsChanged.connect(self._update_user_points)
        self.encoder.done.connect(self._on_encoded)
        self.encoder.failed.connect(self._on_encode_failed)
        self._on_selected_run_changed(s.selected)

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: gray; font-size: 14px")

        self.projection = ElidedComboBox(min_chars=10)
        self.projection.addItem("Two latent dimensions", DIMS)
        self.projection.addItem("PCA of the means", PCA_MODE)
        self.projection.setToolTip("What the axes show: two latent dimensions of your choice (listed most "
                                   "active first, by KL), or the first two principal components of the "
                                   "test split's means")
        self.x_dim, self.y_dim = QComboBox(), QComboBox()
        for c, axis in ((self.x_dim, "horizontal"), (self.y_dim, "vertical")):
            c.setToolTip(f"Latent dimension on the {axis} axis (most active first; KL in nats per image)")
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.refit_pca = QPushButton("Refit")
        self.refit_pca.setToolTip("Fit the principal components again on the current means. The fit is "
                                  "kept while the run trains, so that the view stays put.")
        self.refit_pca.setVisible(False)
        self.live = QCheckBox("Live")
        self.live.setToolTip("Follow a run while it trains within each epoch: its weights are published "
                             "twice a second and the scatter, probe image and traversal follow them "
                             "(without Live they follow at every epoch end)")
        self.status = QLabel("")
        self.status.setStyleSheet("color: gray")
        self.status.setWordWrap(True)
        top = FlowLayout()  # one line when there is room, wrapped when the panel is narrow
        top.addWidget(labelled("Axes", self.projection))
        self.x_label, self.y_label = QLabel("x"), QLabel("y")
        self._x_box, self._y_box = row_widget(self.x_label, self.x_dim), row_widget(self.y_label, self.y_dim)
        top.addWidget(self._x_box)
        top.addWidget(self._y_box)
        top.addWidget(self.refit_pca)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.live)

        self.scatter = LatentScatter()
        self.scatter.setToolTip("Test split, one point per image (its latent mean). Drag the red probe to "
                                "decode any point; click a point to anchor the probe there; hover for its "
                                "index and class; click empty space to move the probe there.")

        self.x_spin, self.y_spin = _coord_spin(), _coord_spin()
        self.x_name, self.y_name = QLabel("x"), QLabel("y")
        self.class_label = QLabel("Class")
        self.class_combo = ElidedComboBox(min_chars=8)
        self.class_combo.setToolTip("The class a conditional VAE decodes the probe and the traversal with")
        self.anchor_label = ElidedLabel("")
        self.anchor_label.setToolTip("The latent dimensions not on the axes come from the anchor: the mean "
                                     "of the last point clicked, a vector sent by another panel, or zero")
        self.reset_anchor = QPushButton("Reset anchor")
        self.reset_anchor.setToolTip("Set the dimensions not on the axes to zero (the prior's mean)")
        probe_bar = FlowLayout()
        probe_bar.addWidget(row_widget(QLabel("Probe"), self.x_name, self.x_spin, self.y_name, self.y_spin))
        self._class_box = row_widget(self.class_label, self.class_combo)
        probe_bar.addWidget(self._class_box)
        probe_bar.addWidget(self.anchor_label)
        probe_bar.addWidget(self.reset_anchor)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addLayout(top)
        lv.addLayout(status_row)
        lv.addWidget(self.scatter, 1)
        lv.addLayout(probe_bar)

        self.probe_pane = ImagePane("Probe decoded", min_size=150)
        self.original_pane = ImagePane("Original", "click a point", min_size=64)
        self.recon_pane = ImagePane("Reconstruction", "", min_size=64)
        pair = QVBoxLayout()
        pair.addWidget(self.original_pane)
        pair.addWidget(self.recon_pane)
        images = QWidget()
        iv = QHBoxLayout(images)
        iv.setContentsMargins(0, 0, 0, 0)
        iv.addWidget(self.probe_pane, 2)
        iv.addLayout(pair, 1)
        self.traversal = TraversalView()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(images)
        right.addWidget(self.traversal)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 2)
        right.setSizes([1000, 2000])  # the images are square (width-bound): the traversal gets two thirds

        main_split = QSplitter(Qt.Orientation.Horizontal)
        main_split.addWidget(left)
        main_split.addWidget(right)
        main_split.setStretchFactor(0, 1)
        main_split.setStretchFactor(1, 1)
        main_split.setSizes([2750, 2250])  # proportions: the scatter gets 55%

        explorer = QWidget()
        ev = QVBoxLayout(explorer)
        ev.setContentsMargins(4, 4, 4, 4)
        ev.addWidget(main_split)
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(explorer)

        self.projection.currentIndexChanged.connect(self._on_projection_changed)
        self.x_dim.currentIndexChanged.connect(self._on_x_dim_changed)
        self.y_dim.currentIndexChanged.connect(self._on_y_dim_changed)
        self.x_spin.valueChanged.connect(self._on_x_typed)
        self.y_spin.valueChanged.connect(self._on_y_typed)
        self.refit_pca.clicked.connect(self._on_refit_pca)
        self.class_combo.currentIndexChanged.connect(self._on_class_changed)
        self.reset_anchor.clicked.connect(self._on_reset_anchor)
        self.live.setChecked(self.workspace.live_weights)
        self.live.toggled.connect(self._on_live_toggled)
        self.scatter.probeMoved.connect(self._on_probe_moved)
        self.scatter.pointClicked.connect(self._on_point_clicked)
        self.scatter.backgroundClicked.connect(self._on_background_clicked)
        self.scatter.pointsDrawn.connect(self._on_points_drawn)

    # -- public state (read by tests and other code) -----------------------------------------------
    @property
    def probe_vector(self) -> np.ndarray:
        return self._z.copy()

    @property
    def anchor(self) -> np.ndarray:
        return self._anchor.copy()

    def probe_image(self) -> np.ndarray | None:
        return self.probe_pane.data()

    def projection_mode(self) -> str:
        return PCA_MODE if self.projection.currentData() == PCA_MODE and self._pca is not None else DIMS

    def set_projection(self, mode: str) -> None:
        self.projection.setCurrentIndex(self.projection.findData(mode))

    def shown_dims(self) -> tuple[int, int | None]:
        return self.x_dim.currentData(), self.y_dim.currentData()

    # -- projection --------------------------------------------------------------------------------
    def _project(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, np.float64))
        if self.projection_mode() == PCA_MODE:
            return self._pca.project(z)
        dx, dy = self.shown_dims()
        y = z[:, dy] if dy is not None else np.zeros(len(z))
        return np.stack([z[:, dx], y], 1)

    def _lift(self, x: float, y: float) -> np.ndarray:
        base = self._anchor.astype(np.float64)
        if self.projection_mode() == PCA_MODE:
            return self._pca.lift(np.array([x, y]), base).astype(np.float32)
        dx, dy = self.shown_dims()
        base[dx] = x
        if dy is not None:
            base[dy] = y
        return base.astype(np.float32)

    def _reproject(self, axes_changed: bool = True) -> None:
        """Redraw the points for the current projection, keeping the probe's latent vector.

        When the axes changed, the probe's vector becomes the anchor (it supplies the dimensions now off the
        axes, so the next drag starts from where the probe is); a refresh on the same axes keeps both."""
        if self._run is None:
            return
        if axes_changed:
            self._anchor = self._z.copy()
        if self.projection_mode() == PCA_MODE:
            names = [f"PC{i + 1} ({100 * e:.0f}% of variance)" for i, e in enumerate(self._pca.explained)]
            short = ["PC1", "PC2"]
        else:
            dx, dy = self.shown_dims()
            names = [f"z{dx}", f"z{dy}" if dy is not None else "(none)"]
            short = names
        self.scatter.set_axis_names(*names)
        self.x_name.setText(short[0])
        self.y_name.setText(short[1])
        self.y_spin.setEnabled(self._dim > 1)
        if self._mu is not None:
            self.scatter.set_points(self._project(self._mu), self._labels, self._class_names())
        if self._anchor_index is not None and self._mu is not None and self._anchor_index < len(self._mu):
            self.scatter.set_picked(self._project(self._mu[self._anchor_index])[0])
        else:
            self.scatter.set_picked(None)
        self._update_user_points()
        p = self._project(self._z)[0]
        self.scatter.place_probe(*p)
        self._show_coords(*p)

    def _class_names(self) -> list[str]:
        names = list(self._run.class_names) if self._run is not None else []
        data = self.workspace.data
        if not names and data is not None:
            names = list(data.class_names)
        return names

    @Slot()
    def _on_points_drawn(self) -> None:
        if self._mu is not None:
            self.scatterUpdated.emit()

    # -- the probe ---------------------------------------------------------------------------------
    @Slot(float, float)
    def _on_probe_moved(self, x: float, y: float) -> None:
        """The marker moved (dragged, typed or clicked): decode its latent vector and show it."""
        if self._run is None:
            return
        self._z = self._lift(x, y)
        self._show_coords(x, y)
        self._probe_vector_changed()

    def _probe_vector_changed(self, immediate_traversal: bool = False) -> None:
        self._decode_probe()
        self.workspace.set_probe(self._z)
        self._update_traversal(immediate_traversal)

    def _decode_probe(self) -> None:
        model = self.workspace.decode_model(self._run)
        if model is None:
            self.probe_pane.set_image(None)
            return
        img = to_uint8(decode(model, self._z[None], self._class()))[0]
        self.probe_pane.set_image(img)

    def _class(self) -> int | None:
        if self._run is None or not self._run.model.conditional:
            return None
        c = self.class_combo.currentIndex()
        return max(c, 0)

    def _update_traversal(self, immediate: bool = False) -> None:
        model = self.workspace.decode_model(self._run) if self._run is not None else None
        self.traversal.set_inputs(model, self._z if model is not None else None, self._kl, self._class(),
                                  immediate=immediate)

    def _show_coords(self, x: float, y: float) -> None:
        for spin, v in ((self.x_spin, x), (self.y_spin, y)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)

    def _set_anchor(self, z: np.ndarray, index: int | None, source: str = "custom vector") -> None:
        """``index``: the data point whose mean ``z`` is; ``source`` says where any other vector came from."""
        self._anchor = np.asarray(z, np.float32).reshape(-1).copy()
        self._anchor_index = index
        if index is not None:
            text = f"point #{index}"
        else:
            text = source if self._anchor.any() else "origin"
        self.anchor_label.setText(f"anchor: {text}")

    def _move_probe_to(self, z: np.ndarray) -> None:
        """Put the probe at the full latent vector ``z`` (the anchor must already supply its other dims)."""
        self._z = np.asarray(z, np.float32).reshape(-1).copy()
        p = self._project(self._z)[0]
        self.scatter.place_probe(*p)
        self._show_coords(*p)
        self._probe_vector_changed(immediate_traversal=True)

    @Slot(float)
    def _on_x_typed(self, x: float) -> None:
        self._type_coords(x, self.scatter.probe_pos()[1])

    @Slot(float)
    def _on_y_typed(self, y: float) -> None:
        self._type_coords(self.scatter.probe_pos()[0], y)

    def _type_coords(self, x: float, y: float) -> None:
        self.scatter.place_probe(x, y)
        self._on_probe_moved(x, y)

    @Slot(float, float)
    def _on_background_clicked(self, x: float, y: float) -> None:
        self.scatter.place_probe(x, y)
        self._on_probe_moved(x, y)

    @Slot(int)
    def _on_point_clicked(self, index: int) -> None:
        if self._mu is None or not 0 <= index < len(self._mu):
            return
        self._set_anchor(self._mu[index], index)
        if self._labels is not None and self._run.model.conditional and self._labels[index] < self.class_combo.count():
            self.class_combo.blockSignals(True)
            self.class_combo.setCurrentIndex(int(self._labels[index]))
            self.class_combo.blockSignals(False)
        self.scatter.set_picked(self._project(self._mu[index])[0])
        self.workspace.pick_point(index)
        self._show_picked()
        self._move_probe_to(self._mu[index])

    def _show_picked(self) -> None:
        i, data = self._anchor_index, self.workspace.data
        if i is None or self._mu is None or data is None or i >= len(data.test_x) or i >= len(self._mu):
            self.original_pane.set_image(None)
            self.recon_pane.set_image(None)
            self.original_pane.set_title("Original")
            return
        self.original_pane.set_image(data.test_x[i].permute(1, 2, 0).numpy())
        label = int(self._labels[i]) if self._labels is not None else None
        name = ""
        if label is not None:
            names = self._class_names()
            name = f", {names[label]}" if label < len(names) else f", class {label}"
        self.original_pane.set_title(f"Original #{i}{name}")
        model = self.workspace.decode_model(self._run)
        cls = label if self._run.model.conditional else None
        self.recon_pane.set_image(to_uint8(decode(model, self._mu[i][None], cls))[0])

    @Slot()
    def _on_reset_anchor(self) -> None:
        if self._run is None:
            return
        self._set_anchor(np.zeros(self._dim, np.float32), None)
        self.scatter.set_picked(None)
        self._show_picked()
        self._on_probe_moved(*self.scatter.probe_pos())

    @Slot(object)
    def _on_probe_requested(self, z) -> None:
        z = np.asarray(z, np.float32).reshape(-1)
        if self._run is None:
            return
        if len(z) != self._dim:
            self.workspace.show_message(
                f"Cannot move the probe: the vector has {len(z)} dimensions, the model has {self._dim}")
            return
        self._set_anchor(z, None, "vector from another panel")
        self.scatter.set_picked(None)
        self._show_picked()
        self._move_probe_to(z)

    @Slot(int)
    def _on_class_changed(self, _index: int) -> None:
        if self._run is not None:
            self._probe_vector_changed(immediate_traversal=True)

    # -- axes --------------------------------------------------------------------------------------
    def _fill_dim_combos(self, keep: bool) -> None:
        d = self._dim
        old = self.shown_dims() if keep else (None, None)
        kl = self._kl if self._kl is not None and len(self._kl) == d else None
        order = [int(i) for i in np.argsort(-kl, kind="stable")] if kl is not None else list(range(d))
        if not self._dims_chosen:  # follow the most informative dimensions until the user picks others
            old = (None, None)
        if d == 2 and not (keep and self._dims_chosen):
            dx, dy = 0, 1
        else:
            dx = old[0] if old[0] is not None and old[0] < d else order[0]
            dy = old[1] if old[1] is not None and old[1] < d else next((i for i in order if i != dx), None)
        for combo, sel in ((self.x_dim, dx), (self.y_dim, dy)):
            combo.blockSignals(True)
            combo.clear()
            for i in order:
                combo.addItem(f"z{i}" + (f"  (KL {kl[i]:.2f})" if kl is not None else ""), i)
            if sel is None:
                combo.addItem("(none)", None)
            combo.setCurrentIndex(combo.findData(sel))
            combo.blockSignals(False)

    @Slot(int)
    def _on_x_dim_changed(self, _i: int) -> None:
        self._dims_changed(self.x_dim, self.y_dim)

    @Slot(int)
    def _on_y_dim_changed(self, _i: int) -> None:
        self._dims_changed(self.y_dim, self.x_dim)

    def _dims_changed(self, changed: QComboBox, other: QComboBox) -> None:
        self._dims_chosen = True
        if changed.currentData() is not None and changed.currentData() == other.currentData():
            other.blockSignals(True)  # the same dimension twice: swap the other axis to the old one
            other.setCurrentIndex(other.findData(self._last_dims[0 if changed is self.x_dim else 1]))
            other.blockSignals(False)
        self._last_dims = self.shown_dims()
        if self.projection_mode() == DIMS:
            self._reproject()

    @Slot(int)
    def _on_projection_changed(self, _i: int) -> None:
        pca = self.projection.currentData() == PCA_MODE
        for w in (self.x_label, self.x_dim, self.y_label, self.y_dim, self._x_box, self._y_box):
            w.setVisible(not pca)
        self.refit_pca.setVisible(pca)
        self.y_dim.setEnabled(self._dim > 1)
        if pca and self._mu is not None:
            self._pca = _fit_pca(self._mu)
        self._reproject()

    @Slot()
    def _on_refit_pca(self) -> None:
        if self._mu is not None and self.projection.currentData() == PCA_MODE:
            self._pca = _fit_pca(self._mu)
            self._reproject()

    # -- workspace -----------------------------------------------------------------------------------
    @Slot(object)
    def _on_selected_run_changed(self, run) -> None:
        self._run = run
        self.encoder.cancel_all()  # a result still on its way belongs to the old run
        self._mu = self._logvar = self._labels = None
        self._pca = None
        self.scatter.clear_points()
        if run is None:
            self._dim = 0
            self._z = self._anchor = np.zeros(0, np.float32)
            self.traversal.set_inputs(None, None, None, None)
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        self._dim = d = run.config.model.latent_dim
        last = run.history.last or {}
        kl = last.get("test_kl_per_dim")
        self._kl = np.asarray(kl, np.float64) if kl is not None and len(kl) == d else None
        self._set_anchor(np.zeros(d, np.float32), None)
        self._z = np.zeros(d, np.float32)
        self._dims_chosen = False
        self._fill_dim_combos(keep=False)
        self._last_dims = self.shown_dims()
        self.projection.model().item(1).setEnabled(d > 1)
        if d < 2:
            self.projection.setCurrentIndex(0)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        if run.model.conditional:
            names = list(run.class_names) or [str(i) for i in range(run.model.num_classes)]
            self.class_combo.addItems(names[: run.model.num_classes])
        self.class_combo.blockSignals(False)
        self.class_combo.setVisible(run.model.conditional)
        self.class_label.setVisible(run.model.conditional)
        self._class_box.setVisible(run.model.conditional)
        self.scatter.enableAutoRange()
        self._show_picked()
        self._on_projection_changed(self.projection.currentIndex())
        self._probe_vector_changed(immediate_traversal=True)
        if self._waits_for_first_epoch(run):
            # a run just started: its random initial weights have nothing to show yet
            self.status.setText(f"{run.name} is training: its scatter appears when the first epoch ends "
                                "(tick Live to follow it within epochs)")
        else:
            self._request_encoding()

    @Slot(object)
    def _on_run_updated(self, run) -> None:
        if run is not self._run:
            return
        self._decode_probe()  # new weights: the same probe decodes to a new image
        self._show_picked()
        self._update_traversal()
        if not self._waits_for_first_epoch(run):
            self._request_encoding()  # the latest weights, re-encoded in the background (latest wins)

    def _waits_for_first_epoch(self, run) -> bool:
        return run.status.active and not run.history.epochs and not self.live.isChecked()

    @Slot(bool)
    def _on_live_toggled(self, live: bool) -> None:
        self.workspace.set_live_weights(live)  # a running run publishes its weights within epochs too
        run = self._run
        if live and run is not None and run.status.active:
            self._request_encoding()  # catch up now rather than at the next publication

    @Slot(object)
    def _on_data_changed(self, _data) -> None:
        if self._run is None:
            return
        self._mu = self._logvar = self._labels = None
        self._pca = None
        self.scatter.clear_points()
        if self._anchor_index is not None:  # the index meant a point of the old data set
            self._set_anchor(self._anchor, None, "mean of a point of the previous data set")
        self._show_picked()
        self._request_encoding()

    @Slot(str)
    def _on_decode_device_changed(self, _device: str) -> None:
        if self._run is not None:
            self._probe_vector_changed(immediate_traversal=True)
            self._show_picked()

    @Slot()
    def _update_user_points(self) -> None:
        pts = []
        if self._run is not None and (self.projection_mode() == DIMS or self._pca is not None):
            for label, z in self.workspace.user_points:
                z = np.asarray(z).reshape(-1)
                if len(z) == self._dim:
                    pts.append((label, self._project(z)[0]))
        self.scatter.set_user_points(pts)

    # -- encoding the test split -------------------------------------------------------------------
    def _data_problem(self, run, data) -> str:
        if data is None:
            return "No data set is loaded: load one to see its test split here."
        m = run.config.model
        if (data.channels, data.image_size) != (m.channels, m.image_size):
            return (f"The data set's images ({data.image_size}x{data.image_size}, {data.channels} channel(s)) do "
                    f"not fit this model ({m.image_size}x{m.image_size}, {m.channels}): load its data set "
                    "to see the scatter.")
        if run.model.conditional and (data.test_y is None or data.num_classes != run.model.num_classes):
            return "This conditional model needs a data set with its class labels to encode the test split."
        if len(data.test_x) == 0:
            return "The data set has no test images."
        return ""

    def _request_encoding(self) -> None:
        run, data = self._run, self.workspace.data
        problem = self._data_problem(run, data)
        if problem:
            self.status.setText(problem)
            return
        model = copy.deepcopy(self.workspace.decode_model(run))
        self._encoding_epoch = len(run.history.epochs)
        self.encoder.submit(encode_split, model, data.test_x, data.test_y)  # the newest request wins
        self.status.setText(f"Encoding {len(data.test_x):,} test images…")

    def _status_text(self) -> str:
        n = 0 if self._mu is None else len(self._mu)
        training = self._run is not None and self._run.status.active
        if self._encoding_epoch:
            epoch = f"weights of epoch {self._encoding_epoch}" + (" (training)" if training else "")
        else:
            epoch = "weights during epoch 1 (live)" if training else "initial weights"
        return f"{n:,} test images · {epoch}"

    @Slot(int, object)
    def _on_encoded(self, _ticket: int, result: EncodedSplit | None) -> None:
        # the runner delivers only the newest request's result (cancel_all() on a run change)
        if result is None or self._run is None or result.mu.shape[1] != self._dim:
            return
        mu, logvar, labels, kl = result.mu, result.logvar, result.labels, result.kl
        first = self._mu is None  # the first scatter of this run (or of this data set)
        self._mu, self._logvar = mu, logvar
        self._labels = labels
        if len(mu):
            self._kl = np.asarray(kl, np.float64)  # of these weights, over the whole split
        self._fill_dim_combos(keep=True)
        self._last_dims = self.shown_dims()
        pca_before = self.projection_mode() == PCA_MODE
        if self._pca is None and self.projection.currentData() == PCA_MODE:
            self._pca = _fit_pca(mu)  # kept on later refreshes of this run: the view stays put
        self._reproject(axes_changed=pca_before != (self.projection_mode() == PCA_MODE))
        if first:
            self.scatter.show_probe_with_points()
        self._show_picked()
        self._update_traversal(immediate=True)
        self.status.setText(self._status_text())

    @Slot(int, str)
    def _on_encode_failed(self, _ticket: int, message: str) -> None:
        self.status.setText(f"Could not encode the test split: {message}")

    # -- shutting down -----------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Stop the encoding thread (idempotent); the main window's TaskHub also does it when it closes."""
        self.encoder.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def _fit_pca(mu: np.ndarray, max_values: int = 2_000_000) -> PCA | None:
    """PCA of the means, fitted on an even subsample when the split is big (at most ``max_values`` numbers)."""
    if len(mu) < 2:
        return None
    step = max(1, -(-mu.size // max_values))
    return fit_pca(mu[::step])


def _coord_spin() -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(-1000.0, 1000.0)
    s.setDecimals(3)
    s.setSingleStep(0.1)
    s.setKeyboardTracking(False)
    s.setToolTip("The probe's coordinate on this axis: type a value to move it")
    return s
