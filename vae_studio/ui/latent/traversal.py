"""The traversal grid: one row per latent dimension, that dimension swept around the probe's value.

Row ``d`` decodes ``z`` with ``z[d]`` replaced by ``z[d] + offset`` for ``offset`` in
``linspace(lo, hi, steps)``: the range is *relative to the probe*, so with an odd step count and a range
symmetric around 0 the middle column is the probe's own decoding. Rows are ordered by KL (most active
first); "Hide inactive" drops dimensions whose KL is below :data:`INACTIVE_KL` nats.

Decoding runs on the GUI thread (a few hundred small images take a few milliseconds). While the probe is
dragged (the hot path: the probe's own image is decoded at every move), the grid waits: superqt's
debouncer draws it once the probe has rested :data:`REST_MS` ms, and its throttler at least every
:data:`MAX_WAIT_MS` ms while the probe keeps moving (or three times what a grid takes, if more).
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFrame, QLabel, QMessageBox,
                               QPushButton, QScrollArea, QSpinBox, QVBoxLayout, QWidget)
from superqt.utils import QSignalDebouncer, QSignalThrottler

from ...core.export import grid_array, save_gif, save_grid_png
from ...core.latent import decode, dims_by_kl, to_uint8, traverse
from ..widgets.compact import FlowLayout, labelled
from ..widgets.file_dialogs import ask_save_path
from ..widgets.image_pane import RGB32ImageItem

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

INACTIVE_KL = 0.01  # nats per image: below this a dimension carries (almost) no information
PAD = 1  # pixels between cells of the on-screen grid
ROW_PX = 40  # the least height of a row on screen; below that the grid scrolls
REST_MS = 60  # the grid follows the probe once it has rested this long...
MAX_WAIT_MS = 250  # ...or at least this often while it keeps moving (three times a grid's cost, if more)
MAX_INTERVAL_MS = 2000  # the longest wait, for a model slow to decode


def relative_traversal(z: np.ndarray, dims: list[int], lo: float, hi: float, steps: int) -> np.ndarray:
    """Latents (len(dims) * steps, D): row r sweeps dims[r] over z[d] + linspace(lo, hi, steps)."""
    z = np.asarray(z, np.float32).reshape(-1)
    out = traverse(z, dims, lo, hi, steps)
    for r, d in enumerate(dims):
        out[r * steps:(r + 1) * steps, d] += z[d]
    return out


class TraversalView(QWidget):
    rendered = Signal()  # a new grid is on screen

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("traversalView")
        self._model = None
        self._space = None  # the latent space of the traversed vector (None: the model's own)
        self._z: np.ndarray | None = None
        self._kl: np.ndarray | None = None
        self._label: int | None = None
        self.rows: list[int] = []  # dimensions shown, top to bottom
        self.images: np.ndarray | None = None  # uint8 (rows, steps, H, W, C) of the grid shown
        self._floats = None  # float (rows * steps, C, H, W) for the PNG export
        self._grid_shape: tuple | None = None
        self.at_rest = QSignalDebouncer(parent=self)  # fires once the probe has rested REST_MS
        self.at_rest.setTimeout(REST_MS)
        self.throttler = QSignalThrottler(QSignalThrottler.EmissionPolicy.Trailing, parent=self)  # while moving
        self.throttler.setTimeout(MAX_WAIT_MS)
        for waiter in (self.at_rest, self.throttler):
            waiter.triggered.connect(self.render_now)

        self.lo = _spin(-3.0, "From", "Start of the sweep, relative to the probe's value of each dimension")
        self.hi = _spin(3.0, "To", "End of the sweep, relative to the probe's value of each dimension")
        self.steps = QSpinBox()
        self.steps.setRange(2, 25)
        self.steps.setValue(9)
        self.steps.setToolTip("Images per row. With an odd count and a range symmetric around 0, the middle "
                              "column is the probe's own decoding.")
        self.hide_inactive = QCheckBox("Hide inactive")
        self.hide_inactive.setChecked(True)
        self.hide_inactive.setToolTip(f"Hide dimensions whose KL is below {INACTIVE_KL} nats per image "
                                      "(collapsed to the prior: moving them changes nothing)")
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setToolTip("Save the grid as a PNG image (one row per dimension)")
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setToolTip("Save an animated GIF: each frame shows every row's image at one step, "
                                   "sweeping forward and back")
        for w in (self.lo, self.hi):
            w.valueChanged.connect(self._settings_changed)
        self.steps.valueChanged.connect(self._settings_changed)
        self.hide_inactive.toggled.connect(self._settings_changed)
        self.png_button.clicked.connect(self._export_png_clicked)
        self.gif_button.clicked.connect(self._export_gif_clicked)

        self.view = pg.GraphicsLayoutWidget()
        self.plot = self.view.addPlot(enableMenu=False)
        self.plot.setMouseEnabled(False, False)  # the wheel scrolls the list of rows instead
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.getAxis("left").setStyle(tickLength=0)
        self.plot.getAxis("bottom").setStyle(tickLength=0)
        self.plot.setLabel("bottom", "offset from the probe's value")
        self.image = RGB32ImageItem()
        self.plot.addItem(self.image)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: gray")

        controls = FlowLayout()  # wraps when the column is narrow
        controls.addWidget(labelled("Traversal  from", self.lo))
        controls.addWidget(labelled("to", self.hi))
        controls.addWidget(labelled("steps", self.steps))
        actions = FlowLayout()
        actions.addWidget(self.hide_inactive)
        actions.addWidget(self.png_button)
        actions.addWidget(self.gif_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(controls)
        lay.addLayout(actions)
        lay.addWidget(self.message)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.view)
        lay.addWidget(self.scroll, 1)
        self.scroll.installEventFilter(self)
        self._update_enabled()

    # -- inputs ------------------------------------------------------------------------------------
    def set_inputs(self, model, z: np.ndarray | None, kl: np.ndarray | None, label: int | None,
                   immediate: bool = False, space=None) -> None:
        """What to traverse: the decode model, the probe's latent vector, KL per dimension, class, and the
        latent space ``z`` is in (default: the model's; a level of a hierarchy: traversals per level)."""
        self._model, self._z, self._label = model, (None if z is None else np.asarray(z, np.float32)), label
        self._space = space
        self._kl = None if kl is None else np.asarray(kl, np.float64)
        if immediate or model is None or z is None:
            self.render_now()
            return
        self.at_rest.throttle()
        self.throttler.throttle()

    def shown_dims(self) -> list[int]:
        if self._z is None:
            return []
        d = len(self._z)
        if self._kl is None or len(self._kl) != d:
            return list(range(d))
        order = dims_by_kl(self._kl)
        if self.hide_inactive.isChecked():
            order = [i for i in order if self._kl[i] >= INACTIVE_KL]
        return order

    def row_label(self, d: int) -> str:
        if self._kl is None or d >= len(self._kl):
            return f"z{d}"
        return f"z{d}  KL {self._kl[d]:.2f}"

    @Slot()
    def _settings_changed(self) -> None:
        self.render_now()

    @Slot()
    def flush(self) -> None:
        """Render now if an update is waiting."""
        self.at_rest.flush(restart_timer=False)  # both waiters always wait for the same update

    # -- drawing -----------------------------------------------------------------------------------
    @Slot()
    def render_now(self) -> None:
        t0 = time.perf_counter()
        for waiter in (self.at_rest, self.throttler):
            waiter.cancel()  # this grid is the update they waited for
        self.rows = self.shown_dims()
        model, z = self._model, self._z
        lo, hi, steps = self.lo.value(), self.hi.value(), self.steps.value()
        if model is None or z is None or not self.rows or lo >= hi:
            self.images, self._floats = None, None
            self.image.clear()
            self._grid_shape = None
            self.view.setMinimumHeight(0)
            if model is not None and z is not None and lo >= hi:
                self.message.setText("The range is empty: 'from' must be below 'to'.")
            elif model is not None and z is not None:
                self.message.setText(f"Every dimension is inactive (KL < {INACTIVE_KL} nats): "
                                     "untick 'Hide inactive' to see them anyway.")
            else:
                self.message.setText("")
            self.message.setVisible(bool(self.message.text()))
            self._update_enabled()
            self.rendered.emit()
            return
        self.message.setVisible(False)
        lat = relative_traversal(z, self.rows, lo, hi, steps)
        floats = decode(model, lat, self._label, self._space)  # (R*S, C, H, W) in [0, 1]
        self._floats = floats
        u8 = to_uint8(floats)  # (R*S, H, W, C)
        n_rows = len(self.rows)
        h, w, c = u8.shape[1:]
        self.images = u8.reshape(n_rows, steps, h, w, c)
        grid = np.full((n_rows * (h + PAD) - PAD, steps * (w + PAD) - PAD, c), 64, np.uint8)
        for r in range(n_rows):
            for s in range(steps):
                grid[r * (h + PAD):r * (h + PAD) + h, s * (w + PAD):s * (w + PAD) + w] = self.images[r, s]
        self.image.setImage(grid[..., 0] if c == 1 else grid)
        left = [(r * (h + PAD) + h / 2, self.row_label(d)) for r, d in enumerate(self.rows)]
        offsets = np.linspace(lo, hi, steps)
        shown = sorted({0, (steps - 1) // 4, (steps - 1) // 2, 3 * (steps - 1) // 4, steps - 1})
        bottom = [(s * (w + PAD) + w / 2, f"{offsets[s]:+.3g}" if offsets[s] else "0") for s in shown]
        self.plot.getAxis("left").setTicks([left])
        self.plot.getAxis("bottom").setTicks([bottom])
        if grid.shape != self._grid_shape:
            self._grid_shape = grid.shape
            self.plot.setRange(QRectF(0, 0, grid.shape[1], grid.shape[0]), padding=0.02)
            self._fit_height()
        self._update_enabled()
        cost_ms = (time.perf_counter() - t0) * 1000
        self.throttler.setTimeout(int(min(MAX_INTERVAL_MS, max(MAX_WAIT_MS, 3 * cost_ms))))
        self.rendered.emit()

    def _fit_height(self) -> None:
        """At least ROW_PX screen pixels per row (many dimensions scroll rather than shrink), but no taller
        than the grid drawn at the view's width needs (a narrow view would only add empty space)."""
        if self._grid_shape is None:
            self.view.setMinimumHeight(0)
            return
        gh, gw = self._grid_shape[:2]
        n_rows = max(1, len(self.rows))
        axis = self.plot.getAxis("left").width() + 16  # the row labels and margins beside the grid
        # the width with a scroll bar, whether or not one shows (else showing it would change the height)
        width = self.scroll.width() - self.scroll.verticalScrollBar().sizeHint().width()
        scale = max(width - axis, 1) / gw
        row_px = min(ROW_PX, scale * gh / n_rows)
        self.view.setMinimumHeight(int(n_rows * row_px) + 50)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if obj is self.scroll and event.type() == QEvent.Type.Resize:
            self._fit_height()
        return super().eventFilter(obj, event)

    def _update_enabled(self) -> None:
        ok = self.images is not None
        self.png_button.setEnabled(ok)
        self.gif_button.setEnabled(ok)

    # -- export ------------------------------------------------------------------------------------
    def gif_frames(self, min_size: int = 64) -> list[np.ndarray]:
        """One frame per step, forward then back (2 * steps - 2 frames): every row's image at that step,
        side by side (ten to a line), enlarged to at least ``min_size`` pixels per image."""
        if self.images is None:
            raise ValueError("there is no traversal to export")
        n_rows, steps, h = self.images.shape[:3]
        k = max(1, -(-min_size // h))
        order = list(range(steps)) + list(range(steps - 2, 0, -1))
        frames = []
        for s in order:
            imgs = self.images[:, s].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
            if k > 1:
                imgs = imgs.repeat(k, axis=2).repeat(k, axis=3)
            frames.append(grid_array(imgs, nrow=min(n_rows, 10), padding=2))
        return frames

    def export_png(self, path) -> None:
        if self._floats is None:
            raise ValueError("there is no traversal to export")
        save_grid_png(self._floats, path, nrow=self.images.shape[1])

    def export_png_at(self, z, path) -> None:
        """Save the grid this view would show with the probe at ``z`` (same rows, range, steps, model, class)
        as a PNG: the traversal of a bookmark."""
        z = np.asarray(z, np.float32).reshape(-1)
        rows, lo, hi, steps = self.shown_dims(), self.lo.value(), self.hi.value(), self.steps.value()
        if self._model is None or self._z is None or len(z) != len(self._z):
            raise ValueError("there is no model to decode this point with")
        if not rows or lo >= hi:
            raise ValueError("the traversal's settings show no rows (see 'Hide inactive' and the range)")
        save_grid_png(decode(self._model, relative_traversal(z, rows, lo, hi, steps), self._label, self._space),
                      path, nrow=steps)

    def export_gif(self, path, duration_ms: int = 120) -> None:
        save_gif(self.gif_frames(), path, duration_ms=duration_ms)

    @Slot()
    def _export_png_clicked(self) -> None:
        self._export("PNG image (*.png)", ".png", self.export_png)

    @Slot()
    def _export_gif_clicked(self) -> None:
        self._export("Animated GIF (*.gif)", ".gif", self.export_gif)

    def _export(self, filt: str, suffix: str, write) -> None:
        path = ask_save_path(self, "Export the traversal", "traversal" + suffix, filt, suffix)  # last folder
        if not path:
            return
        try:
            write(path)
        except (OSError, ValueError) as e:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{e}")


def _spin(value: float, name: str, tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(-20.0, 20.0)
    s.setDecimals(2)
    s.setSingleStep(0.5)
    s.setValue(value)
    s.setKeyboardTracking(False)
    s.setToolTip(tip)
    s.setAccessibleName(name)
    return s
