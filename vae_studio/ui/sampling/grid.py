"""A grid of decoded images shown as one pyqtgraph ImageItem; a click reports the image under the mouse."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from ...workers.decoding import GRID_PADDING, cell_at

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class ImageGridView(QWidget):
    """Shows a grid picture (uint8 (H, W) or (H, W, 3), see ``workers.decoding.grid_image``).

    ``cellClicked(index)`` is emitted when the user clicks an image (not the padding between them). The
    caption under the picture says what is shown, or that a decode is under way (the picture dims)."""

    cellClicked = Signal(int)

    def __init__(self, parent=None, selectable: bool = True, min_height: int = 160):
        super().__init__(parent)
        self._n, self._nrow, self._cell = 0, 1, (1, 1)
        self._shape = None
        self._selectable = selectable
        self.selected: int | None = None

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumHeight(min_height)
        self.view.setAcceptDrops(False)  # dropped files go to the panel (its "your own image")
        self.view.viewport().setAcceptDrops(False)
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(True)
        self.box.addItem(self.image)
        self.marker = QGraphicsRectItem()
        pen = QPen(QColor(255, 200, 0))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self.marker.setPen(pen)
        self.marker.setZValue(10)
        self.marker.hide()
        self.box.addItem(self.marker)
        self.view.scene().sigMouseClicked.connect(self._on_scene_click)
        self._row_labels: list[pg.TextItem] = []

        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)

    # -- content -----------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self._n

    def set_grid(self, grid: np.ndarray, n: int, nrow: int, cell: tuple[int, int], caption: str = "",
                 row_labels: list[str] | None = None) -> None:
        """Show ``grid`` holding ``n`` images of ``cell`` = (height, width) pixels, ``nrow`` per row;
        ``row_labels`` are written left of the rows (one per row)."""
        self._n, self._nrow, self._cell = int(n), max(1, int(nrow)), (int(cell[0]), int(cell[1]))
        self.image.setImage(np.ascontiguousarray(grid), autoLevels=False, levels=(0, 255))
        self.image.setOpacity(1.0)
        labels = list(row_labels or [])
        if grid.shape[:2] != self._shape or labels != [t.textItem.toPlainText() for t in self._row_labels]:
            self._shape = grid.shape[:2]
            self._set_row_labels(labels)
            h, w = grid.shape[:2]
            # room for the longest class name: about 0.45 cell widths per character at the usual cell size
            longest = max((len(t) for t in labels), default=0)
            left = -max(2.2, 0.45 * longest + 0.6) * self._cell[1] if labels else 0
            self.box.setRange(xRange=(left, w), yRange=(0, h), padding=0.01)
        if self.selected is not None and self.selected >= self._n:
            self.select(None)
        else:
            self.select(self.selected)
        self.caption.setText(caption)

    def _set_row_labels(self, labels: list[str]) -> None:
        for t in self._row_labels:
            self.box.removeItem(t)
        self._row_labels = []
        h = self._cell[0]
        for r, text in enumerate(labels):
            t = pg.TextItem(text, color=pg.getConfigOption("foreground"), anchor=(1, 0.5))  # the theme's text
            t.setPos(-GRID_PADDING, GRID_PADDING + r * (h + GRID_PADDING) + h / 2)
            self.box.addItem(t, ignoreBounds=True)
            self._row_labels.append(t)

    def clear(self, caption: str = "") -> None:
        self._n, self._shape = 0, None
        self._set_row_labels([])
        self.image.clear()
        self.select(None)
        self.caption.setText(caption)

    def set_busy(self, busy: bool, caption: str | None = None) -> None:
        """Dim the picture while a decode is under way (the window stays usable)."""
        self.image.setOpacity(0.35 if busy else 1.0)
        if caption is not None:
            self.caption.setText(caption)

    # -- selection ---------------------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        self.selected = index if (index is not None and 0 <= index < self._n) else None
        if self.selected is None or not self._selectable:
            self.marker.hide()
            return
        h, w = self._cell
        row, col = divmod(self.selected, min(self._nrow, self._n))
        x = GRID_PADDING + col * (w + GRID_PADDING)
        y = GRID_PADDING + row * (h + GRID_PADDING)
        self.marker.setRect(QRectF(x - 0.5, y - 0.5, w + 1, h + 1))
        self.marker.show()

    def cell_center(self, index: int) -> tuple[float, float]:
        """Image-pixel coordinates of the centre of image ``index`` (for tests and tooltips)."""
        h, w = self._cell
        row, col = divmod(index, min(self._nrow, self._n))
        return (GRID_PADDING + col * (w + GRID_PADDING) + w / 2, GRID_PADDING + row * (h + GRID_PADDING) + h / 2)

    @Slot(object)
    def _on_scene_click(self, ev) -> None:
        if self._n == 0 or ev.button() != Qt.MouseButton.LeftButton:
            return
        p = self.image.mapFromScene(ev.scenePos())
        i = cell_at(p.x(), p.y(), self._n, self._nrow, self._cell)
        if i is None:
            return
        ev.accept()
        if self._selectable:
            self.select(i)
        self.cellClicked.emit(i)
