"""The codebook of a discrete latent space (a VQ-VAE) and the probe's code map, in the latent explorer.

Left: the K code vectors as a scatter (their first two principal components), each point sized by how many
cells of the test split use that code; unused codes are small and grey. Right: the probe's code map, the h x w
grid of code indices that the probe decodes (a picked image's codes, once a point is picked). Click a cell,
then click a code in the scatter (or type its index): the cell takes that code and ``codesEdited`` carries
the new map; the panel moves the probe there, so the decoded image follows at once (and Undo puts it back).

A view only: it shows what the latent space gives (``codebook``, ``codes_of``) and reports the user's edits.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ...core.latent import fit_pca
from ..widgets.compact import labelled

USED, UNUSED, PICKED = (31, 119, 180, 210), (150, 150, 150, 150), (255, 170, 0)
SIZES = (7.0, 22.0)  # point size of the least and the most used code


class CodebookView(QWidget):
    codesEdited = Signal(object)  # (h, w) int64 array: the probe's code map with one cell changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.codes: np.ndarray | None = None  # (h, w) the code map shown
        self.usage: np.ndarray | None = None  # (K,) cells of the test split per code
        self.xy = np.zeros((0, 2))
        self.cell: tuple[int, int] | None = None

        self.plot = pg.PlotWidget(enableMenu=False)
        self.plot.setMinimumSize(90, 120)
        pi = self.plot.getPlotItem()
        pi.hideButtons()
        pi.setLabel("bottom", "PC1")
        pi.setLabel("left", "PC2")
        pi.setTitle("Codebook (PCA)", size="9pt")
        for side in ("bottom", "left"):
            pi.getAxis(side).enableAutoSIPrefix(False)
        self.unused = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*UNUSED))
        self.used = pg.ScatterPlotItem(pen=None, brush=pg.mkBrush(*USED))
        self.current = pg.ScatterPlotItem(size=18, pen=pg.mkPen(*PICKED, width=2), brush=None)
        for item in (self.unused, self.used, self.current):
            self.plot.addItem(item)
        self.used.sigClicked.connect(self._on_code_clicked)
        self.unused.sigClicked.connect(self._on_code_clicked)
        self.plot.setToolTip("The codebook: one point per code vector (PCA), sized by how many cells of the "
                             "test split use it; grey: unused. Click a code to put it in the selected cell "
                             "of the code map.")

        self.map = QTableWidget(0, 0)
        self.map.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.map.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for header in (self.map.horizontalHeader(), self.map.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(18)
            header.setVisible(False)
        self.map.setToolTip("The code index of each cell of the grid the probe decodes. Click a cell, then a "
                            "code in the codebook (or type its index below) to swap it.")
        self.map.cellClicked.connect(self._on_cell_clicked)
        self.code_spin = QSpinBox()
        self.code_spin.setEnabled(False)
        self.code_spin.setToolTip("The code of the selected cell: change it to swap the code")
        self.code_spin.valueChanged.connect(self._on_code_typed)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: gray")

        right = QVBoxLayout()
        title = QLabel("Code map of the probe")
        title.setWordWrap(True)
        right.addWidget(title)
        right.addWidget(self.map, 1)
        right.addWidget(labelled("Cell's code", self.code_spin))
        top = QHBoxLayout()
        top.addWidget(self.plot, 3)
        top.addLayout(right, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top, 1)
        lay.addWidget(self.caption)

    # -- inputs ------------------------------------------------------------------------------------
    def set_codebook(self, codebook) -> None:
        """(K, D) code vectors: placed by their first two principal components (one axis when D is 1)."""
        cb = np.asarray(codebook, np.float64)
        if cb.shape[1] >= 2:
            self.xy = fit_pca(cb).project(cb)
        else:
            self.xy = np.stack([cb[:, 0], np.zeros(len(cb))], 1)
        self.usage = None
        self.code_spin.setRange(0, len(cb) - 1)
        self._draw_points()

    def set_usage(self, usage) -> None:
        """(K,) cells of the test split that use each code (None: not known yet)."""
        self.usage = None if usage is None else np.asarray(usage, np.int64)
        self._draw_points()

    def show_codes(self, codes) -> None:
        """The probe's code map (h, w)."""
        codes = np.asarray(codes, np.int64)
        self.codes = codes
        h, w = codes.shape
        if (self.map.rowCount(), self.map.columnCount()) != (h, w):
            self.map.setRowCount(h)
            self.map.setColumnCount(w)
            self.cell = None
        for r in range(h):
            for c in range(w):
                item = self.map.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.map.setItem(r, c, item)
                item.setText(str(codes[r, c]))
                unused = self.usage is not None and self.usage[codes[r, c]] == 0
                item.setForeground(QBrush(QColor(*UNUSED[:3])) if unused else QBrush())
        self._show_cell()

    # -- the user ------------------------------------------------------------------------------------
    def select_cell(self, row: int, col: int) -> None:
        if self.codes is not None and 0 <= row < self.codes.shape[0] and 0 <= col < self.codes.shape[1]:
            self.cell = (row, col)
            self.map.setCurrentCell(row, col)
            self._show_cell()

    def choose_code(self, code: int) -> None:
        """Put ``code`` in the selected cell (nothing without a selected cell or when it is already there)."""
        if self.codes is None or self.cell is None or not 0 <= code < len(self.xy):
            return
        if self.codes[self.cell] == code:
            return
        edited = self.codes.copy()
        edited[self.cell] = code
        self.codesEdited.emit(edited)

    @Slot(int, int)
    def _on_cell_clicked(self, row: int, col: int) -> None:
        self.select_cell(row, col)

    @Slot(int)
    def _on_code_typed(self, code: int) -> None:
        self.choose_code(code)

    @Slot(object, object, object)
    def _on_code_clicked(self, _item, points, _ev) -> None:
        if len(points):
            self.choose_code(int(points[0].data()))

    # -- drawing -------------------------------------------------------------------------------------
    def _draw_points(self) -> None:
        k = len(self.xy)
        index = np.arange(k)
        if self.usage is None or len(self.usage) != k:
            used = np.ones(k, bool)
            sizes = np.full(k, SIZES[0])
            self.caption.setText(f"{k} codes; their usage appears once the test split is encoded.")
        else:
            used = self.usage > 0
            sizes = SIZES[0] + (SIZES[1] - SIZES[0]) * np.sqrt(self.usage / max(self.usage.max(), 1))
            self.caption.setText(f"{int(used.sum())} of {k} codes in use on the test split "
                                 f"({int(self.usage.sum()):,} cells; size: usage, grey: unused). To swap a "
                                 "code: click a cell of the map, then a code in the codebook.")
        self.used.setData(pos=self.xy[used], size=sizes[used], data=index[used])
        self.unused.setData(pos=self.xy[~used], data=index[~used])
        self._show_cell()

    def _show_cell(self) -> None:
        code = None if self.codes is None or self.cell is None else int(self.codes[self.cell])
        self.code_spin.blockSignals(True)
        self.code_spin.setEnabled(code is not None)
        if code is not None:
            self.code_spin.setValue(code)
        self.code_spin.blockSignals(False)
        if code is not None and code < len(self.xy):
            self.current.setData(pos=self.xy[code:code + 1])
        else:
            self.current.setData(pos=np.zeros((0, 2)))

    @property
    def unused_count(self) -> int:
        """How many codes are drawn grey (unused on the test split)."""
        return len(self.unused.data)
