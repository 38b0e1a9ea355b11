"""The "Prior samples" column of the sampling panel: its controls (grid size, temperature, seed, one row per
class, the top level fixed per row), the grid of decoded samples, the selected sample (the explorer's probe, an
interpolation endpoint) and the PNG export.

Grids of up to ``SYNC_LIMIT`` images decode on the GUI thread (a few ms); larger ones in a latest-wins
:class:`~vae_studio.workers.tasks.TaskRunner` (:func:`~vae_studio.workers.decoding.decode_grid`) while the
grid dims.

A mixin of :class:`~vae_studio.ui.sampling.panel.SamplingPanel` (it uses the panel's workspace, decode runner,
class choice and interpolation box); kept apart so the panel's file reads as layout and wiring.
"""
from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QGroupBox, QLabel, QPushButton, QSpinBox, QVBoxLayout

from ...core.export import save_grid_png
from ...core.latent_space import NoPrior, space_for
from ...workers.decoding import DecodedGrid, decode_grid, decode_latents, grid_image
from ..widgets.compact import ElidedComboBox, FlowLayout, labelled
from ..widgets.file_dialogs import ask_save_path
from .grid import ImageGridView
from .prior_fit import PriorFitBox

SYNC_LIMIT = 256  # grids up to this many images decode on the GUI thread (a few ms); larger ones in a worker
GRID_SIDES = (4, 6, 8, 10, 12, 16, 24, 32)
SELECTION_HINT = "Click a sample to move the explorer's probe there and to use it as an endpoint"


class PriorSamplesMixin:
    def _build_prior_samples(self, workspace, tasks) -> QGroupBox:
        """The "Prior samples" box, its controls wired to redraw the grid (needs ``self.decoder``)."""
        self.images: np.ndarray | None = None  # the grid's images (N, C, H, W) float32
        self.latents: np.ndarray | None = None  # (N, D)
        self.labels: np.ndarray | None = None  # (N,) per-image class (conditional models) or None
        self.nrow = 8
        self._pending: tuple | None = None  # (latents, labels, nrow, caption) of the grid being decoded
        self._grid_key: tuple | None = None  # the settings of the samples shown (new weights keep them)

        self.grid_size = ElidedComboBox(min_chars=7)
        for s in GRID_SIDES:
            self.grid_size.addItem(f"{s} × {s}", s)
        self.grid_size.setCurrentIndex(GRID_SIDES.index(8))
        self.grid_size.setToolTip(f"Images per side; grids over {SYNC_LIMIT} images decode in the background")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Sampling temperature (the caption under the grid says how this model's "
                                    "prior uses it). Below 1: more typical, less varied samples; above 1: "
                                    "more varied, less realistic")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed gives the same samples")
        self.resample = QPushButton("Resample")
        self.resample.setToolTip("Draw new samples (a new random seed)")
        self.per_class = QCheckBox("One row per class")
        self.per_class.setToolTip("Conditional model: each row decodes the same latents with another class")
        self.fixed_top = QCheckBox("Fix the top level per row")
        self.fixed_top.setToolTip("Hierarchical model: each row keeps one draw of the top level and each column "
                                  "resamples the levels below it, so the rows show what the top level decides "
                                  "(coarse) and the columns what the lower levels add (fine)")
        self.prior_fit = PriorFitBox(workspace, tasks)
        self.grid = ImageGridView()
        self.grid.setToolTip("Click a sample to move the latent explorer's probe to it")
        self.selection = QLabel(SELECTION_HINT)
        self.selection.setWordWrap(True)
        self.set_a, self.set_b = QPushButton("Set as A"), QPushButton("Set as B")
        for b, n in ((self.set_a, "A"), (self.set_b, "B")):
            b.setToolTip(f"Use the selected sample as interpolation endpoint {n}")
            b.setEnabled(False)
        self.save_grid = QPushButton("Export PNG…")
        self.save_grid.setToolTip("Save the grid as one PNG at the model's resolution")

        controls = FlowLayout()  # one line when there is room, wrapped when the panel is narrow
        for w in (labelled("Grid", self.grid_size), labelled("Temperature", self.temperature),
                  labelled("Seed", self.seed), self.resample, self.per_class, self.fixed_top):
            controls.addWidget(w)
        actions = FlowLayout()
        for w in (self.set_a, self.set_b, self.save_grid):
            actions.addWidget(w)
        prior = QGroupBox("Prior samples")
        pl = QVBoxLayout(prior)
        pl.addWidget(self.prior_fit)
        pl.addLayout(controls)
        pl.addWidget(self.grid, 1)
        pl.addWidget(self.selection)
        pl.addLayout(actions)

        self.grid_size.currentIndexChanged.connect(self._on_grid_setting)
        self.temperature.valueChanged.connect(self._on_temperature)
        self.seed.valueChanged.connect(self._on_grid_setting)
        self.per_class.toggled.connect(self._on_toggle)
        self.fixed_top.toggled.connect(self._on_toggle)
        self.resample.clicked.connect(self.new_seed)
        self.grid.cellClicked.connect(self._on_sample_clicked)
        self.set_a.clicked.connect(self._on_set_a)
        self.set_b.clicked.connect(self._on_set_b)
        self.save_grid.clicked.connect(self._on_save_grid)
        self.decoder.done.connect(self._on_decoded)
        self.decoder.failed.connect(self._on_decode_failed)
        return prior

    # -- settings ------------------------------------------------------------------------------------
    @property
    def grid_side(self) -> int:
        return int(self.grid_size.currentData())

    def set_grid_side(self, side: int) -> None:
        self.grid_size.setCurrentIndex(self.grid_size.findData(side))

    @Slot()
    def new_seed(self) -> None:
        """Resample: a new random seed (different from the current one) and the grid it gives."""
        old = self.seed.value()
        s = old
        while s == old:
            s = random.randrange(self.seed.maximum())
        self.seed.setValue(s)

    # -- the grid ----------------------------------------------------------------------------------
    def grid_latents(self, model) -> tuple[np.ndarray, np.ndarray | None, int, str]:
        """Latents, per-image labels, images per row and a caption for the current settings."""
        side, t, seed = self.grid_side, self.temperature.value(), self.seed.value()
        space = space_for(model)  # NoPrior when the model cannot sample yet
        prior = f"{space.prior_text(t)}, seed {seed}"
        if model.conditional and self.per_class.isChecked():
            k = model.num_classes
            z0 = space.prior_latents(side, t, seed).numpy()
            names = self._class_names(k)
            listed = ", ".join(names) if k <= 10 else f"{names[0]} … {names[-1]}"
            caption = f"{k} rows, one per class ({listed}, top to bottom); each column keeps one z; {prior}"
            return np.tile(z0, (k, 1)), np.repeat(np.arange(k), side), side, caption
        z = space.prior_latents(side * side, t, seed).numpy()
        labels = None
        caption = f"{side * side:,} samples, {prior}"
        if model.conditional:
            c = self.current_label()
            labels = np.full(len(z), c)
            caption += f", class {self._class_names(model.num_classes)[c]}"
        return z, labels, side, caption

    def redraw_grid(self) -> None:
        model = self.workspace.decode_model()
        if model is None:
            return
        key = (self.grid_side, self.temperature.value(), self.seed.value(), self.per_class.isChecked(),
               self.class_combo.currentIndex(), self.fixed_top.isChecked())
        if key != self._grid_key:  # other samples: the old selection no longer points at the probe's z
            self._grid_key = key
            self.grid.select(None)
            self._update_selection()
        if self._show_coarse_to_fine(model):
            return
        try:
            z, labels, nrow, caption = self.grid_latents(model)
        except (NoPrior, ValueError) as e:  # said plainly where the samples would be (no prior; temperature 0)
            self.images = self.latents = None
            self.grid.clear(str(e))
            return
        caption += f" · decoded on {self.workspace.decode_device}"
        if len(z) <= SYNC_LIMIT:
            self.decoder.cancel_all()  # a big grid still decoding is no longer wanted
            self._pending = None
            try:
                images = decode_latents(model, z, labels)
            except (RuntimeError, ValueError) as e:  # e.g. out of memory on the decode device
                self.images = self.latents = None
                self.grid.clear(f"Decoding failed: {str(e).splitlines()[0]}")
                return
            self._show_grid(images.numpy(), grid_image(images, nrow), z, labels, nrow, caption)
            return
        self._pending = (z, labels, nrow, caption)
        self.decoder.submit(decode_grid, model, z, labels, nrow)  # replaces any earlier request
        self.grid.set_busy(True, f"Decoding {len(z):,} images on {self.workspace.decode_device}…")

    def _show_coarse_to_fine(self, model) -> bool:
        """With "Fix the top level per row" ticked and a model with levels: rows of one top-level draw each,
        the levels below resampled in every column. False when it does not apply."""
        side, t, seed = self.grid_side, self.temperature.value(), self.seed.value()
        rows = space_for(model).coarse_to_fine(side, side, t, seed) if self.fixed_top.isChecked() else None
        if rows is None:
            return False
        images, z = rows
        self.decoder.cancel_all()
        self._pending = None
        caption = (f"{side} rows × {side} columns: each row keeps one draw of the top level, each column "
                   f"resamples the levels below it (T {t:g}, seed {seed}) · decoded on {self.workspace.decode_device}")
        self._show_grid(images.numpy(), grid_image(images, side), z.numpy(), None, side, caption)
        return True

    def _show_grid(self, images, grid, z, labels, nrow, caption) -> None:
        self.images, self.latents, self.labels, self.nrow = images, z, labels, nrow
        row_labels = None
        if labels is not None and len(np.unique(labels)) > 1:  # the per-class mode: name each row
            names = self._class_names(int(labels.max()) + 1)
            row_labels = [names[int(c)] for c in labels[::nrow]]
        self.grid.set_grid(grid, len(images), nrow, tuple(images.shape[-2:]), caption, row_labels)
        self._update_selection()

    def _update_selection(self) -> None:
        i = self.grid.selected
        for b in (self.set_a, self.set_b):
            b.setEnabled(i is not None)
        if i is None:
            self.selection.setText(SELECTION_HINT)
        else:
            row, col = divmod(i, self.nrow)
            self.selection.setText(f"Sample #{i} (row {row + 1}, column {col + 1}) selected; the latent "
                                   "explorer's probe moved to it")

    # -- slots: the box's own controls ---------------------------------------------------------------
    @Slot(int)
    def _on_grid_setting(self, _value: int) -> None:
        self.redraw_grid()

    @Slot(float)
    def _on_temperature(self, _value: float) -> None:
        self.redraw_grid()

    @Slot(bool)
    def _on_toggle(self, _on: bool) -> None:
        self.redraw_grid()

    @Slot(int)
    def _on_sample_clicked(self, i: int) -> None:
        if self.latents is None or i >= len(self.latents):
            return
        self.workspace.request_probe(self.latents[i])
        self._update_selection()

    def _selected_description(self) -> str:
        i = self.grid.selected
        return f"sample #{i} (seed {self.seed.value()}, T {self.temperature.value():g})"

    @Slot()
    def _on_set_a(self) -> None:
        if self.grid.selected is not None and self.latents is not None:
            self.interp.a.set_prior(self.latents[self.grid.selected], self._selected_description())

    @Slot()
    def _on_set_b(self) -> None:
        if self.grid.selected is not None and self.latents is not None:
            self.interp.b.set_prior(self.latents[self.grid.selected], self._selected_description())

    def export_grid(self, path: str | None = None) -> str | None:
        if self.images is None:
            return None
        path = path or ask_save_path(self, "Save the sample grid", "samples.png", "PNG image (*.png)", ".png")
        if not path:
            return None
        try:
            save_grid_png(self.images, path, nrow=self.nrow)
        except (OSError, ValueError) as e:
            self.selection.setText(f"Could not save {path}: {str(e).splitlines()[0]}")
            return None
        self.workspace.show_message(f"Saved the sample grid to {path}")
        return path

    @Slot()
    def _on_save_grid(self) -> None:
        self.export_grid()

    # -- slots: the decode worker ----------------------------------------------------------------------
    # (the runner delivers only the newest request's result; a small grid decoded directly cancels it)
    @Slot(int, object)
    def _on_decoded(self, _ticket: int, result: DecodedGrid | None) -> None:
        if result is None or self._pending is None:
            return
        z, labels, nrow, caption = self._pending
        self._pending = None
        self._show_grid(result.images, result.grid, z, labels, nrow, caption)

    @Slot(int, str)
    def _on_decode_failed(self, _ticket: int, message: str) -> None:
        if self._pending is not None:
            self._pending = None
            self.grid.set_busy(False, f"Decoding failed: {message}")
