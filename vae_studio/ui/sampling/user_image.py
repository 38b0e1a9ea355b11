"""The user's own image: opened or dropped, encoded, shown beside its reconstruction, placed on the scatter."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout

from ...core.image_input import ImageInputError, load_image, posterior_mean
from ...core.latent import decode, to_uint8
from ..widgets.compact import FlowLayout
from ..widgets.file_dialogs import ask_open_image
from .interpolation import frame_pixmap

VIEW_SIZE = 112


def _frame(images) -> np.ndarray:
    f = to_uint8(images)[0]
    return f[..., 0] if f.shape[-1] == 1 else f


class UserImageBox(QGroupBox):
    """Open (or drop on the panel) an image: it is resized to the model's input and encoded; its posterior
    mean is decoded beside it and added to the latent explorer's scatter."""

    useAsEndpoint = Signal(str, str)  # "A" or "B", the image's path
    message = Signal(str)

    def __init__(self, workspace, label_fn, parent=None):
        super().__init__("Your own image", parent)
        self.workspace = workspace
        self._label_fn = label_fn
        self.path: str | None = None
        self.mu: np.ndarray | None = None
        self.input_frame: np.ndarray | None = None
        self.recon_frame: np.ndarray | None = None

        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Choose an image file (PNG, JPEG, ...); you can also drop one on this panel")
        self.invert = QCheckBox("Invert")
        self.invert.setToolTip("Swap dark and light: for dark strokes on a white page, when the model learned "
                               "light shapes on black (MNIST, sprites)")
        self.use_a = QPushButton("Use as A")
        self.use_b = QPushButton("Use as B")
        for b in (self.use_a, self.use_b):
            b.setToolTip("Make this image an endpoint of the interpolation")
            b.setEnabled(False)
        self.hint = QLabel("Open an image or drop one here. It is resized and centre-cropped to the model's "
                           "input size, encoded, and placed on the latent explorer's scatter.")
        self.hint.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.input_view, self.recon_view = QLabel(), QLabel()
        for v in (self.input_view, self.recon_view):
            v.setFixedSize(VIEW_SIZE, VIEW_SIZE)
            v.setAlignment(Qt.AlignmentFlag.AlignCenter)
            v.setStyleSheet("background: black;")
        self.input_caption, self.recon_caption = QLabel("Input"), QLabel("Reconstruction")
        self.input_view.setToolTip("Your image as the model sees it")
        self.recon_view.setToolTip("The decoder's output at the encoder's mean for your image")

        buttons = FlowLayout()  # wraps when the column is narrow
        for w in (self.open_button, self.invert, self.use_a, self.use_b):
            buttons.addWidget(w)
        pics = QGridLayout()
        pics.addWidget(self.input_view, 0, 0)
        pics.addWidget(self.recon_view, 0, 1)
        pics.addWidget(self.input_caption, 1, 0, Qt.AlignmentFlag.AlignHCenter)
        pics.addWidget(self.recon_caption, 1, 1, Qt.AlignmentFlag.AlignHCenter)
        pics.setColumnStretch(2, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(buttons)
        lay.addWidget(self.hint)
        lay.addWidget(self.error)
        lay.addLayout(pics)
        lay.addStretch(1)

        self.open_button.clicked.connect(self._on_open)
        self.invert.toggled.connect(self._on_invert)
        self.use_a.clicked.connect(self._on_use_a)
        self.use_b.clicked.connect(self._on_use_b)

    def open_file(self, path: str) -> bool:
        """Load, encode and show ``path``; on a bad file show why (inline) and keep the previous image."""
        model = self.workspace.decode_model()
        if model is None:
            return self._fail("Train a model or open a run first, then open your image")
        cfg = model.cfg
        name = os.path.basename(path)
        try:
            x = load_image(path, cfg.image_size, cfg.channels, invert=self.invert.isChecked())
            label = self._label_fn()
            mu = posterior_mean(model, x, label)
            recon = decode(model, mu, label)
        except ImageInputError as e:
            return self._fail(str(e))
        except RuntimeError as e:  # e.g. out of memory on the decode device
            return self._fail(f"could not encode {name}: {str(e).splitlines()[0]}")
        self.path, self.mu = path, mu[0]
        self.input_frame, self.recon_frame = _frame(x), _frame(recon)
        self.input_view.setPixmap(frame_pixmap(self.input_frame, VIEW_SIZE))
        self.recon_view.setPixmap(frame_pixmap(self.recon_frame, VIEW_SIZE))
        self.input_caption.setText(f"Input ({cfg.image_size}×{cfg.image_size})")
        self.input_view.setToolTip(f"{path}\nas the model sees it")
        self.error.hide()
        for b in (self.use_a, self.use_b):
            b.setEnabled(True)
        self.workspace.add_user_point(name, self.mu)
        self.message.emit(f"Encoded {name} and placed it on the scatter")
        return True

    def _fail(self, text: str) -> bool:
        self.error.setText(text)
        self.error.show()
        self.message.emit(f"Your image: {text}")  # the status bar too: this box can be below the fold
        return False

    def reset(self) -> None:
        """A different model: the old encoding no longer applies."""
        self.path, self.mu, self.input_frame, self.recon_frame = None, None, None, None
        self.input_view.clear()
        self.recon_view.clear()
        self.input_caption.setText("Input")
        self.error.hide()
        for b in (self.use_a, self.use_b):
            b.setEnabled(False)

    @Slot()
    def _on_open(self) -> None:
        path = ask_open_image(self)
        if path:
            self.open_file(path)

    @Slot(bool)
    def _on_invert(self, _on: bool) -> None:
        if self.path:
            self.open_file(self.path)

    @Slot()
    def _on_use_a(self) -> None:
        if self.path:
            self.useAsEndpoint.emit("A", self.path)

    @Slot()
    def _on_use_b(self) -> None:
        if self.path:
            self.useAsEndpoint.emit("B", self.path)
