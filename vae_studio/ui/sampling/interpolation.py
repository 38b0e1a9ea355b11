"""Interpolation between two endpoints: a strip of decoded steps, an animation, and its exports."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout

from ...core.export import save_gif, save_grid_png
from ...core.latent import lerp, slerp, to_uint8
from ...workers.decoding import decode_latents, grid_image
from ..widgets.compact import ElidedComboBox, FlowLayout, labelled
from .endpoints import EndpointError, EndpointPicker
from ..widgets.file_dialogs import ask_folder, ask_save_path
from .grid import ImageGridView

ANIM_SIZE = 144  # pixels of the animation view
GIF_MIN_SIZE = 128  # GIF frames are enlarged (nearest neighbour) to at least this many pixels


def frame_pixmap(frame: np.ndarray, size: int) -> QPixmap:
    """A uint8 (H, W) or (H, W, 3) frame as a pixmap ``size`` pixels wide, sharp (nearest neighbour)."""
    f = np.ascontiguousarray(frame)
    h, w = f.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if f.ndim == 2 else QImage.Format.Format_RGB888
    img = QImage(f.data, w, h, f.strides[0], fmt).copy()
    return QPixmap.fromImage(img).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.FastTransformation)


def enlarge(frame: np.ndarray, min_size: int) -> np.ndarray:
    k = max(1, -(-min_size // max(frame.shape[:2])))
    return np.repeat(np.repeat(frame, k, axis=0), k, axis=1)


class InterpolationBox(QGroupBox):
    """Endpoints A and B, the path (linear or spherical) and N steps -> strip + animation + exports."""

    message = Signal(str)  # a short status line ("Saved ...")

    def __init__(self, workspace, label_fn, parent=None):
        super().__init__("Interpolation", parent)
        self.workspace = workspace
        self._label_fn = label_fn  # () -> class for a conditional model, or None
        self.images: np.ndarray | None = None  # (N, C, H, W) float32 in [0, 1]
        self.frames: list[np.ndarray] = []  # uint8 (H, W) or (H, W, 3)
        self.latents: np.ndarray | None = None  # (N, D)
        self.frame = 0

        self.a = EndpointPicker("A", workspace, default_index=0)
        self.b = EndpointPicker("B", workspace, default_index=1)
        self.path = ElidedComboBox(min_chars=10)
        self.path.addItem("Linear (lerp)", "lerp")
        self.path.addItem("Spherical (slerp)", "slerp")
        self.path.setToolTip("Linear: a straight line from A to B. Spherical: along the great circle, keeping "
                             "the vector's length typical of the prior (Shoemake's slerp)")
        self.steps = QSpinBox()
        self.steps.setRange(2, 64)
        self.steps.setValue(10)
        self.steps.setToolTip("Number of images from A to B, both included")
        self.strip = ImageGridView(selectable=False, min_height=56)
        self.strip.view.setMaximumHeight(120)
        self.strip.setToolTip("Click a step to show it in the animation and move the explorer's probe there")
        self.strip.cellClicked.connect(self._on_strip_click)

        self.anim = QLabel()
        self.anim.setFixedSize(ANIM_SIZE, ANIM_SIZE)
        self.anim.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.anim.setStyleSheet("background: black;")
        self.anim.setToolTip("The interpolation as an animation")
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play or pause the animation")
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 30)
        self.speed.setValue(8)
        self.speed.setToolTip("Animation speed (also the GIF's speed)")
        self.speed_label = QLabel()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._on_tick)

        self.save_strip = QPushButton("Strip PNG…")
        self.save_strip.setToolTip("Save the strip as one PNG at the model's resolution")
        self.save_gif_button = QPushButton("GIF…")
        self.save_gif_button.setToolTip(f"Save the animation as an animated GIF (enlarged to at least "
                                        f"{GIF_MIN_SIZE} px, at the chosen speed)")
        self.save_frames = QPushButton("PNG frames…")
        self.save_frames.setToolTip("Save every step as its own PNG (model resolution) into a folder")
        self.error = QLabel()
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()

        path_row = FlowLayout()
        path_row.addWidget(labelled("Path", self.path))
        path_row.addWidget(labelled("Steps", self.steps))
        form = QVBoxLayout()
        form.addWidget(self.a)
        form.addWidget(self.b)
        form.addLayout(path_row)
        # the strip across the box; under it the animation with its controls beside it
        self.speed.setMinimumWidth(60)
        controls = QVBoxLayout()
        controls.addStretch(1)
        controls.addWidget(self.play)
        controls.addWidget(self.speed)
        controls.addWidget(self.speed_label)
        controls.addStretch(1)
        anim_row = QHBoxLayout()
        anim_row.addWidget(self.anim)
        anim_row.addLayout(controls)
        anim_row.addStretch(1)
        exports = FlowLayout()
        exports.addWidget(QLabel("Export:"))
        for w in (self.save_strip, self.save_gif_button, self.save_frames):
            exports.addWidget(w)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.strip, 1)
        lay.addLayout(anim_row)
        lay.addLayout(exports)
        lay.addStretch(1)

        for picker in (self.a, self.b):
            picker.changed.connect(self.refresh)
        self.path.currentIndexChanged.connect(self._on_setting)
        self.steps.valueChanged.connect(self._on_setting)
        self.play.toggled.connect(self._on_play)
        self.speed.valueChanged.connect(self._on_speed)
        self.save_strip.clicked.connect(self._on_save_strip)
        self.save_gif_button.clicked.connect(self._on_save_gif)
        self.save_frames.clicked.connect(self._on_save_frames)
        workspace.probeChanged.connect(self._on_probe)
        workspace.dataChanged.connect(self._on_data)
        self._on_speed(self.speed.value())
        self._on_data(workspace.data)
        self._set_exports_enabled(False)

    # -- computing ---------------------------------------------------------------------------------
    @property
    def fps(self) -> int:
        return self.speed.value()

    @Slot()
    def refresh(self) -> None:
        """Resolve A and B for the current decoding model and decode the path between them."""
        model = self.workspace.decode_model()
        if model is None:
            self._clear("")
            return
        label = self._label_fn()
        try:
            za, zb = self.a.latent(model, label), self.b.latent(model, label)
        except EndpointError as e:
            self._clear(str(e))
            return
        n = self.steps.value()
        z = (slerp if self.path.currentData() == "slerp" else lerp)(za, zb, n)
        try:
            images = decode_latents(model, z, None if label is None else np.full(n, label))
        except (RuntimeError, ValueError) as e:
            self._clear(f"decoding failed: {str(e).splitlines()[0]}")
            return
        self.latents, self.images = z, images.numpy()
        u8 = to_uint8(images)
        self.frames = [f[..., 0] if f.shape[-1] == 1 else f for f in u8]
        self.frame = min(self.frame, n - 1)
        h, w = self.images.shape[-2:]
        kind = "spherical" if self.path.currentData() == "slerp" else "linear"
        self.strip.set_grid(grid_image(images, n), n, n, (h, w),
                            f"{n} steps from A (left) to B (right), {kind} path")
        self.error.hide()
        self._set_exports_enabled(True)
        self._show_frame()

    def _clear(self, message: str) -> None:
        self.images, self.latents, self.frames = None, None, []
        self.strip.clear("")
        self.anim.clear()
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self._set_exports_enabled(False)

    def _set_exports_enabled(self, on: bool) -> None:
        for w in (self.save_strip, self.save_gif_button, self.save_frames):
            w.setEnabled(on)

    def _show_frame(self) -> None:
        if self.frames:
            self.anim.setPixmap(frame_pixmap(self.frames[self.frame], ANIM_SIZE))

    # -- exports (``path`` given: no dialog) ---------------------------------------------------------
    def export_strip(self, path: str | None = None) -> str | None:
        if self.images is None:
            return None
        path = path or ask_save_path(self, "Save the interpolation strip", "interpolation.png",
                                     "PNG image (*.png)", ".png")
        return self._saving(path, lambda: save_grid_png(self.images, path, nrow=len(self.images)))

    def export_gif(self, path: str | None = None) -> str | None:
        if not self.frames:
            return None
        path = path or ask_save_path(self, "Save the interpolation as a GIF", "interpolation.gif",
                                     "Animated GIF (*.gif)", ".gif")
        frames = [enlarge(f, GIF_MIN_SIZE) for f in self.frames]
        return self._saving(path, lambda: save_gif(frames, path, duration_ms=round(1000 / self.fps)))

    def export_frames(self, folder: str | None = None) -> str | None:
        if not self.frames:
            return None
        folder = folder or ask_folder(self, "Choose a folder for the interpolation frames")

        def write():
            for i, f in enumerate(self.frames):
                Image.fromarray(f).save(os.path.join(folder, f"interpolation_{i:03d}.png"))
        return self._saving(folder, write, f"{len(self.frames)} frames")

    def _saving(self, path, write, what: str = "") -> str | None:
        if not path:
            return None
        try:
            write()
        except (OSError, ValueError) as e:
            self.error.setText(f"Could not save {path}: {str(e).splitlines()[0]}")
            self.error.show()
            return None
        self.message.emit(f"Saved {what + ' to ' if what else ''}{path}")
        return path

    # -- slots -------------------------------------------------------------------------------------
    @Slot(int)
    def _on_setting(self, _value: int) -> None:
        self.refresh()

    @Slot(object)
    def _on_probe(self, _z) -> None:
        if "probe" in (self.a.source, self.b.source):
            self.refresh()

    @Slot(object)
    def _on_data(self, data) -> None:
        n = 0 if data is None else len(data.test_x)
        self.a.set_test_count(n)
        self.b.set_test_count(n)

    @Slot(int)
    def _on_strip_click(self, i: int) -> None:
        if self.latents is not None and i < len(self.latents):
            self.frame = i
            self._show_frame()
            self.workspace.request_probe(self.latents[i])

    @Slot(bool)
    def _on_play(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        if on:
            self.timer.start()
        else:
            self.timer.stop()

    @Slot(int)
    def _on_speed(self, fps: int) -> None:
        self.speed_label.setText(f"{fps} frames/s")
        self.timer.setInterval(round(1000 / fps))

    @Slot()
    def _on_tick(self) -> None:
        if self.frames:
            self.frame = (self.frame + 1) % len(self.frames)
            self._show_frame()

    @Slot()
    def _on_save_strip(self) -> None:
        self.export_strip()

    @Slot()
    def _on_save_gif(self) -> None:
        self.export_gif()

    @Slot()
    def _on_save_frames(self) -> None:
        self.export_frames()

    def stop(self) -> None:
        self.timer.stop()
