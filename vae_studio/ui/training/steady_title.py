"""A plot title that keeps one size whatever it says.

pyqtgraph's title (a ``LabelItem``) asks the plot's layout for the size of its current text, again at every
resize. A title whose text changes, such as the KL bar chart's "7 of 10 active · epoch 12", then moves the plot
grid; each move is a relayout and a repaint of all the loss plots, and the new sizes resized the title, which
asked again (one redraw took four or five paints).
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt


class SteadyTitle(pg.LabelItem):
    """A ``LabelItem`` whose size is that of ``widest`` (set in the same style), whatever its text."""

    def __init__(self, widest: str, parent=None, **style):
        self._steady: tuple[float, float] | None = None
        super().__init__("", parent=parent, **style)
        self.setText(widest)
        rect = self.itemRect()
        self._steady = (rect.width(), rect.height())
        self.setText("")

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph API
        if self._steady is None:
            super().updateMin()
            return
        w, h = self._steady
        if (self.minimumWidth(), self.minimumHeight()) == (w, h):
            return  # a new text, the same size: no relayout
        self.setMinimumWidth(w)
        self.setMinimumHeight(h)
        hint = Qt.SizeHint
        self._sizeHint = {hint.MinimumSize: (w, h), hint.PreferredSize: (w, h), hint.MaximumSize: (-1, -1),
                          hint.MinimumDescent: (0, 0)}
        self.updateGeometry()


def give_steady_title(plot: pg.PlotItem, widest: str, **style) -> None:
    """Put a :class:`SteadyTitle` the size of ``widest`` where ``plot``'s own title label is (then
    ``plot.setTitle`` sets its text)."""
    old = plot.titleLabel
    plot.layout.removeItem(old)
    old.setParentItem(None)
    plot.titleLabel = SteadyTitle(widest, parent=plot, **style)
    plot.layout.addItem(plot.titleLabel, 0, 1)
