"""The scatter of latent means with a draggable probe, hover read-out, click-to-pick and user stars.

A view only: it draws the 2-D coordinates it is given and reports what the user does through signals
(``probeMoved``, ``pointClicked``, ``backgroundClicked``); the latent panel owns the latent vectors.
One ``ScatterPlotItem`` per class with a shared brush and no pen (70,000 points draw in ~0.15 s), cached
as a device pixmap so that dragging the probe does not repaint every point (:class:`ClassScatter`).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer, Signal, Slot
from PySide6.QtWidgets import QGraphicsItem

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

# tab10 then tab20's light shades: distinct on dark and light backgrounds
_PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
]
CHUNK_POINTS = 25000  # points added to the plot per turn of the event loop (~10 ms of setData here)
PICK_RADIUS_PX = 6.0  # a click or hover within this many pixels of a point picks it


def theme_colors() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """pyqtgraph's configured (foreground, background) as RGB: the main window sets them from the palette."""
    fg = pg.mkColor(pg.getConfigOption("foreground"))
    bg = pg.mkColor(pg.getConfigOption("background"))
    return (fg.red(), fg.green(), fg.blue()), (bg.red(), bg.green(), bg.blue())


def class_color(i: int, n: int) -> tuple[int, int, int]:
    if n <= len(_PALETTE):
        return _PALETTE[i]
    c = pg.intColor(i, hues=n)
    return c.red(), c.green(), c.blue()


class ClassScatter(pg.ScatterPlotItem):
    """The points of one class, painted from a device-pixel cache (moving the probe over them blits the
    cache instead of redrawing every point) and with a cached bounding rectangle: Qt asks for it a few
    dozen times per repaint and pyqtgraph recomputes it from the view's pixel size every time. The cache
    is dropped whenever pyqtgraph announces a change (new data, new view transform)."""

    def __init__(self, *args, **kwargs):
        self._bounds_cache: QRectF | None = None
        super().__init__(*args, **kwargs)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self):
        if self._bounds_cache is None:
            self._bounds_cache = QRectF(super().boundingRect())
        return QRectF(self._bounds_cache)

    def prepareGeometryChange(self):
        self._bounds_cache = None
        super().prepareGeometryChange()

    def viewTransformChanged(self):
        self._bounds_cache = None
        super().viewTransformChanged()

    def invalidate(self):  # new sizes or symbols, clear()
        self._bounds_cache = None
        super().invalidate()

    def updateSpots(self, dataSet=None):
        """pyqtgraph finds each new point's place in its symbol atlas with a Python loop over the points
        (~3 us a point, most of the cost of ``setData``); when every point has the item's one style (no
        per-point symbol, size, pen or brush, nothing hoverable) that place is looked up once."""
        data = self.data if dataSet is None else dataSet
        if not (self.opts["pxMode"] and self.opts["useCache"]) or self.opts["hoverable"] or not _one_style(data):
            return super().updateSpots(dataSet)
        mask = data["sourceRect"]["w"] == 0
        if mask.any():
            style = (self.opts["symbol"], self.opts["size"], self.opts["pen"], self.opts["brush"])
            data["sourceRect"][mask] = self.fragmentAtlas[[style]][0]
        self._maybeRebuildAtlas()
        self._updateMaxSpotSizes(data=data)
        if mask.any():
            self.invalidate()


def _one_style(data: np.ndarray) -> bool:
    """Whether no point of a ScatterPlotItem's record array has a style of its own (all use the item's)."""
    return bool((data["size"] == -1).all()) and all(np.equal(data[k], None).all() for k in ("symbol", "pen", "brush"))


class LatentScatter(pg.PlotWidget):
    pointsDrawn = Signal()  # every point given to set_points is on the plot
    probeMoved = Signal(float, float)  # the marker moved (dragged, or placed by the panel)
    probeReleased = Signal()  # the user let go of the marker after dragging it
    pointClicked = Signal(int)  # index of the data point clicked
    backgroundClicked = Signal(float, float)  # a click away from every point, in plot coordinates

    def __init__(self, parent=None):
        super().__init__(parent, enableMenu=False)  # no view menu (not even built: it cost 1.5 ms at launch)
        self.setObjectName("latentScatter")
        # no grid: grid lines belong to the axes, which would then repaint on every probe move
        self.setAspectLocked(False)
        fg, bg = theme_colors()
        self.legend = self.plotItem.addLegend(offset=(8, 8), labelTextSize="9pt", verSpacing=-4,
                                              brush=(*bg, 200), pen=(*fg, 90), labelTextColor=fg)
        self._items: list[pg.ScatterPlotItem] = []
        self._xy = np.zeros((0, 2))
        self._labels: np.ndarray | None = None
        self._class_names: list[str] = []
        self._legend_key: tuple | None = None
        self._tasks: list = []  # chunks of points still to draw
        self._auto_range_after = False
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_next_chunk)

        self._picked = pg.ScatterPlotItem(size=13, pen=pg.mkPen(fg, width=2), brush=None, symbol="o")
        self._picked.setZValue(20)
        self._hovered = pg.ScatterPlotItem(size=11, pen=pg.mkPen((*fg, 160), width=1.5), brush=None)
        self._hovered.setZValue(19)
        self._hover_text = pg.TextItem("", anchor=(0, 1), color=fg, fill=(*bg, 210))
        self._fg, self._bg = fg, bg
        self._hover_text.setZValue(40)
        self._hover_text.setVisible(False)
        self._stars = pg.ScatterPlotItem(size=18, symbol="star", pen=pg.mkPen("k", width=1),
                                         brush=pg.mkBrush(255, 215, 0))
        self._stars.setZValue(25)
        self._star_labels: list[pg.TextItem] = []
        for item in (self._picked, self._hovered, self._stars):
            self.addItem(item)
        self.addItem(self._hover_text, ignoreBounds=True)

        self.probe = pg.TargetItem(pos=(0, 0), size=16, symbol="crosshair", pen=pg.mkPen((255, 60, 60), width=2),
                                   hoverPen=pg.mkPen((255, 160, 160), width=2), brush=(255, 60, 60, 40))
        self.probe.setZValue(50)
        self.probe.setToolTip("The probe: drag it to decode any point of latent space")
        self.addItem(self.probe, ignoreBounds=True)
        self.probe.sigPositionChanged.connect(self._on_probe_moved)
        self.probe.sigPositionChangeFinished.connect(self._on_probe_released)

        scene = self.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        # While the probe is dragged, pyqtgraph would still look for hoverable items under the mouse on
        # every move (a few ms with a dozen scatter items and the legend); nothing can be hovered then.
        self._scene_hover = scene.sendHoverEvents
        scene.sendHoverEvents = self._send_hover_events

    # -- data --------------------------------------------------------------------------------------
    def set_points(self, xy: np.ndarray, labels: np.ndarray | None, class_names: list[str]) -> None:
        """Draw ``xy`` (N, 2), coloured by ``labels`` (N,) int (None: one colour); ``pointsDrawn`` follows.

        Up to :data:`CHUNK_POINTS` points are drawn at once. More are drawn in chunks of up to that many
        points, one per turn of the event loop, so that the window keeps answering while 70,000 points
        appear; hover and click work on all points at once."""
        self._xy = np.asarray(xy, np.float64).reshape(-1, 2)
        self._labels = None if labels is None else np.asarray(labels)
        self._class_names = list(class_names)
        top_label = int(self._labels.max()) + 1 if self._labels is not None and len(self._labels) else 0
        n_classes = max(len(class_names), top_label)
        groups = list(range(n_classes)) if self._labels is not None else [None]
        size = 3 if len(self._xy) > 20000 else 5
        while len(self._items) < len(groups):
            item = ClassScatter(pen=None, symbol="o", hoverable=False)
            self.addItem(item)
            self._items.append(item)
        while len(self._items) > len(groups):
            item = self._items.pop()
            self.removeItem(item)
        chunked = len(self._xy) > CHUNK_POINTS
        tasks = []
        for item, g in zip(self._items, groups):
            pts = self._xy if g is None else self._xy[self._labels == g]
            brush = pg.mkBrush(*((180, 180, 180) if g is None else class_color(g, n_classes)), 200)
            if not chunked:
                item.setData(x=pts[:, 0], y=pts[:, 1], size=size, brush=brush, pen=None)
                continue
            item.clear()
            for start in range(0, max(len(pts), 1), CHUNK_POINTS):
                tasks.append((item, pts[start:start + CHUNK_POINTS], size, brush, start == 0))
        self._tasks = tasks
        self._draw_timer.stop()
        if tasks:
            vb = self.plotItem.vb
            if any(vb.autoRangeEnabled()):  # jump once to the final range, not once per chunk
                lo, hi = self._xy.min(0), self._xy.max(0)
                vb.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]))
                self._auto_range_after = True
            self._draw_timer.start(0)
        key = (tuple(groups), tuple(self._class_names), n_classes)
        if key != self._legend_key:  # legend samples are separate items: readable at any point size
            self._legend_key = key
            self.legend.clear()
            for g in groups:
                if g is None:
                    name, color = "test images", (180, 180, 180)
                else:
                    name = self._class_names[g] if g < len(self._class_names) else f"class {g}"
                    color = class_color(g, n_classes)
                sample = pg.ScatterPlotItem(size=9, symbol="o", pen=None, brush=pg.mkBrush(*color))
                self.legend.addItem(sample, name)
        self._hovered.clear()
        self._hover_text.setVisible(False)
        self.legend.setVisible(len(self._xy) > 0)
        if not tasks:
            self.pointsDrawn.emit()

    @Slot()
    def _draw_next_chunk(self) -> None:
        budget = CHUNK_POINTS  # several small classes share a turn of the event loop
        while self._tasks and (budget == CHUNK_POINTS or len(self._tasks[0][1]) <= budget):
            item, pts, size, brush, first = self._tasks.pop(0)
            budget -= len(pts)
            if first:
                item.setData(x=pts[:, 0], y=pts[:, 1], size=size, brush=brush, pen=None)
            else:
                item.addPoints(x=pts[:, 0], y=pts[:, 1], size=size, brush=brush, pen=None)
        if self._tasks:
            self._draw_timer.start(0)
        else:
            if self._auto_range_after:
                self._auto_range_after = False
                self.plotItem.vb.enableAutoRange()
            self.pointsDrawn.emit()

    def drawing(self) -> bool:
        """Whether points given to ``set_points`` are still being drawn."""
        return bool(self._tasks)

    def clear_points(self) -> None:
        self.set_points(np.zeros((0, 2)), None, [])
        self.legend.clear()
        self._legend_key = None
        self.set_picked(None)

    def show_probe_with_points(self) -> None:
        """If the probe lies outside the points' box, zoom out to show both (auto-range then stops)."""
        if len(self._xy) == 0:
            return
        x, y = self.probe_pos()
        lo, hi = self._xy.min(0), self._xy.max(0)
        if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]:
            return
        self.plotItem.vb.setRange(xRange=(min(lo[0], x), max(hi[0], x)), yRange=(min(lo[1], y), max(hi[1], y)),
                                  padding=0.05)

    def points(self) -> np.ndarray:
        """The drawn coordinates (N, 2), in data-point order."""
        return self._xy.copy()

    def drawn_points(self) -> list[np.ndarray]:
        """The coordinates on the plot, one (n, 2) array per class (a single one without labels)."""
        return [np.stack(item.getData(), 1) for item in self._items]

    def point_count(self) -> int:
        return sum(len(item.data) for item in self._items)

    def set_picked(self, xy) -> None:
        """Ring the picked data point (None: no ring)."""
        if xy is None:
            self._picked.clear()
        else:
            self._picked.setData(pos=[tuple(map(float, xy))])

    def set_user_points(self, points: list[tuple[str, np.ndarray]]) -> None:
        """Star markers with their labels; ``points`` are (label, (2,) coordinates)."""
        for t in self._star_labels:
            self.removeItem(t)
        self._star_labels = []
        if not points:
            self._stars.clear()
            return
        xy = np.array([p for _, p in points], np.float64).reshape(-1, 2)
        self._stars.setData(x=xy[:, 0], y=xy[:, 1])
        for (label, _), (x, y) in zip(points, xy):
            t = pg.TextItem(label, anchor=(0, 1), color=self._fg, fill=(*self._bg, 170))
            t.setPos(x, y)
            t.setZValue(26)
            self.addItem(t, ignoreBounds=True)
            self._star_labels.append(t)

    def user_points(self) -> list[tuple[str, tuple[float, float]]]:
        """The stars on the plot: (label, (x, y))."""
        return [(t.toPlainText(), (float(t.pos().x()), float(t.pos().y()))) for t in self._star_labels]

    def set_axis_names(self, x: str, y: str) -> None:
        self.setLabel("bottom", x)
        self.setLabel("left", y)

    # -- probe -------------------------------------------------------------------------------------
    def probe_pos(self) -> tuple[float, float]:
        p = self.probe.pos()
        return float(p.x()), float(p.y())

    def place_probe(self, x: float, y: float) -> None:
        """Move the marker without emitting ``probeMoved`` (the caller updates itself)."""
        self.probe.blockSignals(True)
        try:
            self.probe.setPos(float(x), float(y))
        finally:
            self.probe.blockSignals(False)

    @Slot(object)
    def _on_probe_released(self, _item) -> None:
        self.probeReleased.emit()

    @Slot(object)
    def _on_probe_moved(self, item) -> None:
        p = item.pos()
        self.probeMoved.emit(float(p.x()), float(p.y()))

    # -- hover and click ---------------------------------------------------------------------------
    def _send_hover_events(self, ev, exitOnly=False):
        if self.probe.moving and not exitOnly:
            return
        self._scene_hover(ev, exitOnly)

    def nearest_point(self, scene_pos: QPointF) -> int | None:
        """Index of the data point within PICK_RADIUS_PX pixels of ``scene_pos`` (the nearest), or None."""
        vb = self.plotItem.vb
        if len(self._xy) == 0 or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        sx, sy = vb.viewPixelSize()
        if not (sx > 0 and sy > 0):
            return None
        d2 = ((self._xy[:, 0] - p.x()) / sx) ** 2 + ((self._xy[:, 1] - p.y()) / sy) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= PICK_RADIUS_PX**2 else None

    def hover_label(self) -> str | None:
        """The label shown beside the hovered point (None when no point is hovered)."""
        return self._hover_text.toPlainText() if self._hover_text.isVisible() else None

    def hover_text(self, index: int) -> str:
        text = f"#{index}"
        if self._labels is not None:
            c = int(self._labels[index])
            name = self._class_names[c] if c < len(self._class_names) else str(c)
            text += f"  class {c}" + (f" ({name})" if name != str(c) else "")
        return text

    @Slot(object)
    def _on_mouse_moved(self, scene_pos) -> None:
        if self.probe.moving:
            return  # dragging the probe: keep every millisecond for the decode
        i = self.nearest_point(scene_pos)
        if i is None:
            if self._hover_text.isVisible():
                self._hover_text.setVisible(False)
                self._hovered.clear()
            return
        x, y = self._xy[i]
        self._hovered.setData(pos=[(x, y)])
        self._hover_text.setText(self.hover_text(i))
        self._hover_text.setPos(x, y)
        self._hover_text.setVisible(True)

    @Slot(object)
    def _on_mouse_clicked(self, ev) -> None:
        from PySide6.QtCore import Qt

        if ev.button() != Qt.MouseButton.LeftButton or ev.double() or self.probe.moving:
            return
        pos = ev.scenePos()
        vb = self.plotItem.vb
        if not vb.sceneBoundingRect().contains(pos):
            return
        if self.probe.sceneBoundingRect().contains(pos):
            return  # a click on the marker itself
        i = self.nearest_point(pos)
        if i is not None:
            self.pointClicked.emit(i)
        else:
            p = vb.mapSceneToView(pos)
            self.backgroundClicked.emit(float(p.x()), float(p.y()))
