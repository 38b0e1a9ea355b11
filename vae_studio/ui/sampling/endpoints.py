"""One end (A or B) of an interpolation: where its latent vector comes from, and the vector itself."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QStackedWidget, QWidget

from ...core.image_input import ImageInputError, load_image, posterior_mean
from ...core.latent import encode_dataset
from ..widgets.compact import ElidedComboBox, ElidedLabel, row_widget
from ..widgets.file_dialogs import ask_open_image

SOURCES = (
    ("test", "Test image", "A test-split image, encoded by the model (its posterior mean)"),
    ("picked", "Scatter pick", "The point you last clicked in the latent explorer's scatter"),
    ("file", "Image file", "An image file of your own, resized to the model's input and encoded"),
    ("probe", "Explorer probe", "Where the latent explorer's probe is now (follows it as it moves)"),
    ("prior", "Prior sample", "A prior sample: click one in the grid, then 'Set as A' or 'Set as B'"),
)


class EndpointError(ValueError):
    """The endpoint cannot give a latent vector yet; the message tells the user what to do."""


class EndpointPicker(QWidget):
    """A source chooser and the details of that source; :meth:`latent` resolves it for a model."""

    changed = Signal()

    def __init__(self, name: str, workspace, parent=None, default_index: int = 0):
        super().__init__(parent)
        self.name = name
        self.workspace = workspace
        self.file_path: str | None = None
        self.prior_z: np.ndarray | None = None
        self._file_cache: tuple | None = None  # ((path, size, channels, invert), tensor)
        self.invert = False

        self.combo = ElidedComboBox(min_chars=9)
        for key, text, tip in SOURCES:
            self.combo.addItem(text, key)
            self.combo.setItemData(self.combo.count() - 1, tip, 3)  # Qt.ToolTipRole
        self.combo.setToolTip(f"Where endpoint {name} comes from")
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self._default_index = default_index  # applied once the test split's size is known
        self.index.setPrefix("#")
        self.index.setMinimumWidth(80)
        self.index.setToolTip("Index of the image in the test split")
        # the details are shortened with "…" when the panel is narrow (the tooltip shows them whole)
        self.picked = ElidedLabel()
        self.file_button = QPushButton("Open…")
        self.file_button.setToolTip("Choose an image file to encode")
        self.file_label = ElidedLabel("no file")
        self.probe_label = ElidedLabel("follows the probe")
        self.prior_label = ElidedLabel("click a sample, then Set as " + name)

        file_box = QWidget()
        fl = QHBoxLayout(file_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.file_button)
        fl.addWidget(self.file_label, 1)
        self.stack = QStackedWidget()
        for w in (row_widget(self.index, stretch=True), self.picked, file_box, self.probe_label, self.prior_label):
            self.stack.addWidget(w)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel(f"<b>{name}</b>"))
        lay.addWidget(self.combo)
        lay.addWidget(self.stack, 1)

        self.combo.currentIndexChanged.connect(self._on_source)
        self.index.valueChanged.connect(self._on_detail)
        self.file_button.clicked.connect(self._on_open)
        self.workspace.pointPicked.connect(self._on_picked)
        self._on_picked()

    # -- state -------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return self.combo.currentData()

    def set_source(self, key: str) -> None:
        self.combo.setCurrentIndex(self.combo.findData(key))

    def set_prior(self, z: np.ndarray, description: str) -> None:
        self.prior_z = np.asarray(z, np.float32).reshape(-1)
        self.prior_label.setText(description)
        self.prior_label.setToolTip(description)
        if self.source == "prior":
            self.changed.emit()
        else:
            self.set_source("prior")

    def set_file(self, path: str) -> None:
        self.file_path = path
        self.file_label.setText(os.path.basename(path))
        self.file_label.setToolTip(path)
        if self.source == "file":
            self.changed.emit()
        else:
            self.set_source("file")

    def set_test_count(self, n: int) -> None:
        self.index.blockSignals(True)
        self.index.setRange(0, max(0, n - 1))
        if self._default_index is not None and n > 0:
            self.index.setValue(min(self._default_index, n - 1))
            self._default_index = None
        self.index.blockSignals(False)
        self.index.setEnabled(n > 0)

    # -- resolving ---------------------------------------------------------------------------------
    def latent(self, model, label: int | None) -> np.ndarray:
        """This endpoint's latent vector (D,) for ``model``; EndpointError says what is missing."""
        src, d = self.source, model.latent_dim
        if src in ("test", "picked"):
            i = self.index.value() if src == "test" else self.workspace.picked_index
            if i is None:
                raise EndpointError(f"{self.name}: click a point in the latent explorer's scatter first")
            return self._encode_test(model, int(i))
        if src == "file":
            if not self.file_path:
                raise EndpointError(f"{self.name}: open an image file first")
            try:
                x = self._load_file(model)
                return posterior_mean(model, x, label)[0]
            except ImageInputError as e:
                raise EndpointError(f"{self.name}: {e}") from None
        z = self.workspace.probe if src == "probe" else self.prior_z
        if z is None and src == "probe":
            raise EndpointError(f"{self.name}: move the latent explorer's probe first")
        if z is None:
            raise EndpointError(f"{self.name}: click a prior sample in the grid, then 'Set as {self.name}'")
        z = np.asarray(z, np.float32).reshape(-1)
        if len(z) != d:
            raise EndpointError(f"{self.name}: this latent vector has {len(z)} dimensions, the model {d}; "
                                "choose it again")
        return z

    def _encode_test(self, model, i: int) -> np.ndarray:
        data = self.workspace.data
        if data is None:
            raise EndpointError(f"{self.name}: no data set is loaded")
        if not 0 <= i < len(data.test_x):
            raise EndpointError(f"{self.name}: test image #{i} does not exist (0..{len(data.test_x) - 1})")
        cfg = model.cfg
        if (data.channels, data.image_size) != (cfg.channels, cfg.image_size):
            raise EndpointError(f"{self.name}: the loaded data set's images ({data.image_size}x{data.image_size}, "
                                f"{data.channels} channel(s)) do not fit this model ({cfg.image_size}x"
                                f"{cfg.image_size}, {cfg.channels})")
        y = data.test_y[i:i + 1] if (model.conditional and data.test_y is not None) else None
        if model.conditional and y is None:
            raise EndpointError(f"{self.name}: the test split has no labels for this conditional model")
        return encode_dataset(model, data.test_x[i:i + 1], y).mu[0]

    def _load_file(self, model):
        key = (self.file_path, model.cfg.image_size, model.cfg.channels, self.invert)
        if self._file_cache is None or self._file_cache[0] != key:
            self._file_cache = (key, load_image(self.file_path, key[1], key[2], invert=self.invert))
        return self._file_cache[1]

    # -- slots -------------------------------------------------------------------------------------
    @Slot(int)
    def _on_source(self, _row: int) -> None:
        self.stack.setCurrentIndex(self.combo.currentIndex())
        self.changed.emit()

    @Slot(int)
    def _on_detail(self, _value: int) -> None:
        if self.source == "test":
            self.changed.emit()

    @Slot()
    def _on_open(self) -> None:
        path = ask_open_image(self)
        if path:
            self.set_file(path)

    @Slot(int)
    def _on_picked(self, _index: int = -1) -> None:
        i = self.workspace.picked_index
        self.picked.setText("none yet: click a point in the scatter" if i is None else f"test image #{i}")
        if self.source == "picked":
            self.changed.emit()
