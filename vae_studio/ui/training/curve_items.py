"""The look of a loss-over-steps plot, and the three plot items that draw one run's curve of one loss: its
raw steps (faint), their smoothed line, and the per-epoch test points. Shared by the loss plots and the
own-terms plot."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFontMetrics

WIDEST_LOSS_TICK = "0.005"  # the loss axes keep room for tick labels this wide


def add_curve_items(plot: pg.PlotItem, colour: str, raw_visible: bool) -> tuple:
    """Add (raw, smooth, marks) in ``colour`` to ``plot`` and return them."""
    line = QColor(colour)
    faint = QColor(line)
    faint.setAlpha(55)
    raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1), connect="finite")
    smooth = pg.PlotDataItem(pen=pg.mkPen(line, width=2), connect="finite")
    marks = pg.PlotDataItem(pen=None, symbol="o", symbolSize=7, symbolBrush=line, symbolPen=pg.mkPen("w", width=1))
    for item in (raw, smooth):
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
    raw.setVisible(raw_visible)
    for item in (raw, smooth, marks):
        plot.addItem(item)
    return raw, smooth, marks


def style_step_plot(plot: pg.PlotItem) -> None:
    """A plot of losses over training steps: steps along the bottom, short ticks outside and no grid (a curve
    update then repaints the plot area only, not the axes), points clipped to the view and peak-downsampled."""
    plot.setLabel("bottom", "step")
    for side in ("left", "bottom"):
        plot.getAxis(side).setStyle(tickLength=5)
    fix_tick_text_space(plot, WIDEST_LOSS_TICK)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")


def fix_tick_text_space(plot: pg.PlotItem, widest: str) -> None:
    """Give ``plot``'s left axis room for tick labels as wide as ``widest`` and its bottom axis one line, for good.
    pyqtgraph otherwise sizes an axis to the labels it has just painted, so the plots are laid out and painted
    again: one redraw of the loss plots took five paints, 50 ms of the GUI thread."""
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        fm = QFontMetrics(axis.style["tickFont"] or axis.font())
        if side == "left":
            axis.setStyle(autoExpandTextSpace=False, tickTextWidth=fm.horizontalAdvance(widest))
        else:
            axis.setStyle(autoExpandTextSpace=False, tickTextHeight=fm.height())
