"""The k test images nearest to the probe in latent space, in a strip under the probe's decoded image.

It follows the workspace's ``probeChanged`` (every move of the probe) and asks the explorer's exact index
(:meth:`~vae_studio.app.explorer.LatentExplorer.nearest`: a fraction of a millisecond for 70,000 points);
the strip is redrawn only when the neighbours change. Hover a thumbnail for its index, class and distance;
click it to anchor the probe at that point.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from ..widgets.image_pane import RGB32ImageItem

PAD = 2  # pixels between thumbnails
PER_ROW = 10  # thumbnails per row; more wrap onto a second row
MAX_K = 20
ROW_PX = 40  # height of a row of thumbnails on screen


class NeighboursView(QWidget):
    pointClicked = Signal(int)  # index into the test split of the thumbnail clicked

    def __init__(self, workspace, explorer, parent=None):
        super().__init__(parent)
        self.workspace, self.explorer = workspace, explorer
        self.indices = np.zeros(0, np.int64)  # the test images shown, nearest first
        self.distances = np.zeros(0, np.float32)
        self._tile = (1, 1)  # (thumbnail height, width) with padding
        self.k = QSpinBox()
        self.k.setRange(1, MAX_K)
        self.k.setValue(8)
        self.k.setToolTip("How many of the nearest test images to show")
        self.k.setAccessibleName("Neighbours")
        self.title = QLabel("Nearest test images")
        self.title.setToolTip("The test images whose latent means are nearest to the probe (Euclidean distance "
                              "in latent space), nearest first. Hover one for its distance; click it to "
                              "anchor the probe there.")
        self.message = QLabel("")
        self.message.setStyleSheet("color: gray")
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title)
        head.addWidget(self.k)
        head.addWidget(self.message, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setContentsMargins(0, 0, 0, 0)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.view.setFixedHeight(ROW_PX + 4)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
        self.image = RGB32ImageItem()
        self.box.addItem(self.image)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.view)
        self.k.valueChanged.connect(self.refresh)
        workspace.probeChanged.connect(self.refresh)
        workspace.dataChanged.connect(self.clear)
        workspace.selectedRunChanged.connect(self.clear)
        self.view.scene().sigMouseMoved.connect(self._on_hover)
        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.clear()

    @Slot()
    def clear(self, *_args) -> None:
        self._show(np.zeros(0, np.int64), np.zeros(0, np.float32))

    @Slot()
    def refresh(self, *_args) -> None:
        """The neighbours of the explorer's probe (called on every probe move and when the split is new)."""
        idx, dist = self.explorer.nearest(self.k.value())
        data = self.workspace.data
        if data is None or (len(idx) and idx.max() >= len(data.test_x)):
            idx, dist = np.zeros(0, np.int64), np.zeros(0, np.float32)
        self._show(idx, dist)

    def _show(self, idx: np.ndarray, dist: np.ndarray) -> None:
        self.distances = dist
        if np.array_equal(idx, self.indices) and (len(idx) or self.image.image is None):
            return  # the same neighbours: nothing to redraw while the probe moves among them
        self.indices = idx
        if not len(idx):
            self.image.clear()
            waiting = self.explorer.dim and self.explorer.index is None
            self.message.setText("(once the test split is encoded)" if waiting else "")
            return
        self.message.setText("")
        thumbs = self.workspace.data.test_x[torch.from_numpy(idx)].permute(0, 2, 3, 1).numpy()  # (k, H, W, C)
        self.image.setImage(tile(thumbs))
        h, w = thumbs.shape[1:3]
        self._tile = (h + PAD, w + PAD)
        self.view.setFixedHeight(ROW_PX * -(-len(idx) // PER_ROW) + 4)
        grid = self.image.image
        self.box.setRange(pg.QtCore.QRectF(0, 0, grid.shape[1], grid.shape[0]), padding=0)

    def text_for(self, i: int) -> str:
        """What the tooltip says about the i-th neighbour shown."""
        index = int(self.indices[i])
        data = self.workspace.data
        label = ""
        if data is not None and data.test_y is not None and index < len(data.test_y):
            c = int(data.test_y[index])
            label = f", {data.class_names[c]}" if c < len(data.class_names) else f", class {c}"
        return f"#{index}{label} · distance {float(self.distances[i]):.3f}"

    def _slot_at(self, scene_pos) -> int | None:
        if not len(self.indices) or not self.box.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.box.mapSceneToView(QPointF(scene_pos))
        row, col = int(p.y() // self._tile[0]), int(p.x() // self._tile[1])
        i = row * PER_ROW + col
        return i if p.x() >= 0 and p.y() >= 0 and col < PER_ROW and i < len(self.indices) else None

    @Slot(object)
    def _on_hover(self, scene_pos) -> None:
        i = self._slot_at(scene_pos)
        self.view.setToolTip(self.text_for(i) if i is not None else self.title.toolTip())

    @Slot(object)
    def _on_click(self, ev) -> None:
        i = self._slot_at(ev.scenePos())
        if i is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.pointClicked.emit(int(self.indices[i]))


def tile(images: np.ndarray) -> np.ndarray:
    """uint8 (k, H, W, C) -> one uint8 image, :data:`PER_ROW` to a row, :data:`PAD` grey pixels between."""
    k, h, w, c = images.shape
    cols = min(k, PER_ROW)
    rows = -(-k // PER_ROW)
    out = np.full((rows * (h + PAD) - PAD, cols * (w + PAD) - PAD, c), 96, np.uint8)
    for i in range(k):
        r, q = divmod(i, PER_ROW)
        out[r * (h + PAD):r * (h + PAD) + h, q * (w + PAD):q * (w + PAD) + w] = images[i]
    return out[..., 0] if c == 1 else out
