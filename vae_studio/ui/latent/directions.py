"""Directions in latent space: make one (two classes, a known factor, two points), list them by name, move the
probe along one with a slider; and latent arithmetic, A - B + C from three points.

A view of the selected run's directions (``entry.explorer.directions``, state of the workspace: adding and
deleting go through undo commands and the list follows ``directionsChanged``). The vectors come from
:mod:`vae_studio.core.directions` applied to the explorer's encoded split. The view moves the probe by
emitting ``probeWanted`` (the panel puts the probe there and decodes) and ends each gesture with
``gestureDone`` (one undoable step). The slider's zero is where the probe was when the slider was first moved;
when the probe moves by other means, the slider goes back to zero there. The slider is superqt's labelled double
slider: its value is t itself, and typing in its label moves there.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractSlider, QComboBox, QGroupBox, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QSlider, QStackedWidget, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

from ...core.directions import DirectionError, along, analogy, class_direction, factor_direction, point_direction
from ...core.explorer_state import Direction
from ..widgets.compact import FlowLayout, row_widget
from ..widgets.undo import ExplorerItemCommand

CLASSES, FACTOR, POINTS = "classes", "factor", "points"
T_RANGE = 2.0  # the slider goes from -T_RANGE to +T_RANGE times the direction
T_STEPS = 100  # slider steps per unit of t (a key's step; a page is 10 of them)
_ACTION = QAbstractSlider.SliderAction
KEY_STEPS = {_ACTION.SliderSingleStepAdd: 1, _ACTION.SliderSingleStepSub: -1,  # a key's action -> slider steps
             _ACTION.SliderPageStepAdd: 10, _ACTION.SliderPageStepSub: -10,
             _ACTION.SliderToMaximum: 2 * T_RANGE * T_STEPS, _ACTION.SliderToMinimum: -2 * T_RANGE * T_STEPS}
PRESS_OR_RELEASE = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseButtonRelease)


class DirectionsView(QWidget):
    probeWanted = Signal(object, str)  # the latent vector to put the probe at, and where it comes from in words
    gestureDone = Signal(str)  # the probe's move just made is one step for Edit > Undo (its text)

    def __init__(self, workspace, explorer, undo_stack, parent=None):
        super().__init__(parent)
        self.workspace, self.explorer, self.undo_stack = workspace, explorer, undo_stack
        self._base: np.ndarray | None = None  # the probe at t = 0 of the slider
        self._moving = False  # the probe moves because of this view
        self._pressed = False  # a mouse button is down on the slider (its drag is one step, ended at release)
        self._points: dict[str, tuple[np.ndarray, str]] = {}  # "P", "Q", "A", "B", "C" -> (vector, in words)

        self.kind = QComboBox()
        self.kind.addItem("Class A − class B", CLASSES)
        self.kind.addItem("Known factor", FACTOR)
        self.kind.addItem("Point P → point Q", POINTS)
        self.kind.setToolTip("How to make a new direction: the mean latent of one class minus another's; the "
                             "least-squares direction that predicts a known factor of the data (the built-in "
                             "sprites' scale, rotation, x, y...); or from one probe position to another")
        self.class_a, self.class_b = QComboBox(), QComboBox()
        self.class_a.setToolTip("Class A: the direction points towards its mean")
        self.class_b.setToolTip("Class B: the direction points away from its mean")
        self.factor = QComboBox()
        self.factor.setToolTip("A known generative factor of the data set; t = 1 changes it by its whole range "
                               "(as the linear fit predicts)")
        self.set_p, self.set_q = _point_button("P"), _point_button("Q")
        self.inputs = QStackedWidget()
        self.inputs.addWidget(row_widget(QLabel("A"), self.class_a, QLabel("B"), self.class_b))
        self.inputs.addWidget(row_widget(self.factor))
        self.inputs.addWidget(row_widget(self.set_p, self.set_q))
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Make the direction and add it to this run's list (saved with the run)")
        make = FlowLayout()
        make.addWidget(self.kind)
        make.addWidget(self.inputs)
        make.addWidget(self.add_button)

        self.list = QListWidget()
        self.list.setToolTip("This run's directions, saved with it. Pick one and move the slider.")
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)  # its value is t; its label shows it
        self.slider.setRange(-T_RANGE, T_RANGE)
        self.slider.setDecimals(2)
        self.slider.setSingleStep(1 / T_STEPS)
        self.slider.setPageStep(10 / T_STEPS)
        self.slider.setToolTip("Move the probe along the direction: t = 0 is where the probe was, t = 1 adds "
                               "the whole direction once (B's mean to A's, the factor's whole range, P to Q)")
        self.slider.setAccessibleName("Move along the direction")
        self._groove = self.slider.findChild(QSlider)  # the slider part, beside the label
        self._groove.setAccessibleName("Move along the direction")
        self._groove.installEventFilter(self)
        self.t_label = self.slider.findChild(QLineEdit)  # fixed width: a new value relayouts nothing
        self.t_label.setToolTip("t: how many times the whole direction is added to where the probe was; type a "
                                "value to go there")
        self.t_label.setAccessibleName("t")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the direction picked in the list (Edit ▸ Undo brings it back)")
        move = row_widget(QLabel("t"), self.slider, self.delete_button)
        move.layout().setStretch(1, 1)

        self.set_a, self.set_b, self.set_c = _point_button("A"), _point_button("B"), _point_button("C")
        self.go_analogy = QPushButton("Go to A − B + C")
        self.go_analogy.setToolTip("Put the probe at A − B + C (“A is to B as the result is to C”); the strip "
                                   "above shows the nearest real images to it")
        arith = QGroupBox("Latent arithmetic")
        flow = FlowLayout(arith)
        for w in (self.set_a, self.set_b, self.set_c, self.go_analogy):
            flow.addWidget(w)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: gray")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(make)
        lay.addWidget(self.list, 1)
        lay.addWidget(move)
        lay.addWidget(arith)
        lay.addWidget(self.message)

        self.kind.currentIndexChanged.connect(self.inputs.setCurrentIndex)
        self.add_button.clicked.connect(self.add_direction)
        for name, button in (("P", self.set_p), ("Q", self.set_q), ("A", self.set_a), ("B", self.set_b),
                             ("C", self.set_c)):
            button.clicked.connect(lambda _=False, n=name: self.set_point(n))  # a GUI-thread signal
        self.go_analogy.clicked.connect(self.go_to_analogy)
        self.list.currentRowChanged.connect(self._on_direction_picked)
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.slider.actionTriggered.connect(self._on_slider_key)
        self.slider.sliderReleased.connect(self._on_slider_released)
        self.delete_button.clicked.connect(self.delete_direction)
        workspace.directionsChanged.connect(self._on_directions_changed)
        workspace.selectedRunChanged.connect(self._on_run_changed)
        workspace.dataChanged.connect(self.refresh_inputs)
        workspace.probeChanged.connect(self._on_probe_changed)
        self._on_run_changed(workspace.selected)

    # -- inputs ------------------------------------------------------------------------------------
    @Slot()
    def refresh_inputs(self, *_args) -> None:
        """The classes and factors to choose from (the panel calls this when a split is encoded)."""
        data, run = self.workspace.data, self.workspace.selected
        names = list(run.class_names) if run is not None and run.class_names else []
        if not names and data is not None:
            names = list(data.class_names)
        labels = self.explorer.labels
        classes = sorted(int(c) for c in np.unique(labels)) if labels is not None else []
        for combo, default in ((self.class_a, 1), (self.class_b, 0)):
            keep = combo.currentData()
            combo.clear()
            for c in classes:
                combo.addItem(names[c] if c < len(names) else f"class {c}", c)
            i = combo.findData(keep)
            combo.setCurrentIndex(i if i >= 0 else min(default, combo.count() - 1))
        keep = self.factor.currentText()
        self.factor.clear()
        if data is not None and data.has_factors:
            self.factor.addItems(list(data.factor_names))
        self.factor.setCurrentIndex(max(0, self.factor.findText(keep)))
        self.factor.setEnabled(self.factor.count() > 0)
        if not self.factor.count():
            self.factor.addItem("(the data set has no known factors)")

    @Slot(str)
    def set_point(self, name: str) -> None:
        """Remember where the probe is now as point ``name`` (P, Q, A, B or C)."""
        ex = self.explorer
        if ex.dim == 0:
            return
        z = ex.probe.copy()
        words = (f"point #{ex.anchor_index}" if ex.anchor_index is not None and np.array_equal(z, ex.anchor)
                 else "({:.2f}, {:.2f})".format(*ex.probe_xy))
        self._points[name] = (z, words)
        button = {"P": self.set_p, "Q": self.set_q, "A": self.set_a, "B": self.set_b, "C": self.set_c}[name]
        button.setText(f"{name}: {words}")

    def _point(self, name: str) -> tuple[np.ndarray, str]:
        p = self._points.get(name)
        if p is None or len(p[0]) != self.explorer.dim:
            raise DirectionError(f"set {name} first: put the probe somewhere and press '{name} = probe'")
        return p

    # -- making and deleting -------------------------------------------------------------------------
    @Slot()
    def add_direction(self) -> None:
        entry, ex = self.workspace.selected, self.explorer
        if entry is None:
            return
        try:
            kind = self.kind.currentData()
            if kind == POINTS:
                (p, pw), (q, qw) = self._point("P"), self._point("Q")
                direction = Direction.of(f"{pw} → {qw}", point_direction(p, q), f"from {pw} to {qw}")
            elif ex.mu is None:
                raise DirectionError("wait until the test split is encoded")
            elif kind == CLASSES:
                a, b = self.class_a.currentData(), self.class_b.currentData()
                if a is None or b is None:
                    raise DirectionError("the test split has no class labels")
                na, nb = self.class_a.currentText(), self.class_b.currentText()
                direction = Direction.of(f"{na} − {nb}", class_direction(ex.mu, ex.labels, a, b),
                                         f"mean of class {na} minus mean of class {nb}")
            else:
                data = self.workspace.data
                if data is None or not data.has_factors or len(data.test_factors) != len(ex.mu):
                    raise DirectionError("the data set has no known factors for its test images")
                name = self.factor.currentText()
                fit = factor_direction(ex.mu, data.test_factors[:, self.factor.currentIndex()])
                direction = Direction.of(f"{name} (factor)", fit.vector,
                                         f"least-squares fit of {name} (R² {fit.r2:.2f}); t = 1 spans its range")
        except DirectionError as e:
            self.message.setText(f"No direction: {e}.")
            return
        self.undo_stack.push(ExplorerItemCommand(self.workspace, entry, "direction", direction))
        self.list.setCurrentRow(self.list.count() - 1)
        self.message.setText(f"Added {self.current().name}: move the slider to walk the probe along it.")

    @Slot()
    def delete_direction(self) -> None:
        d, entry = self.current(), self.workspace.selected
        if d is not None and entry is not None:
            self.undo_stack.push(ExplorerItemCommand(self.workspace, entry, "direction", d, delete=True))

    def current(self) -> Direction | None:
        entry, row = self.workspace.selected, self.list.currentRow()
        items = entry.explorer.directions if entry is not None else []
        return items[row] if 0 <= row < len(items) else None

    # -- moving the probe ----------------------------------------------------------------------------
    @Slot(float)
    def _on_slider_moved(self, t: float) -> None:
        d = self.current()
        if d is None or self.explorer.dim != len(d.vector):
            return
        if self._base is None:
            self._base = self.explorer.probe.copy()
        self._want(along(self._base, d.array, t), f"along {d.name}")  # the same words all along: no relayout
        if not (self._pressed or self.slider.isSliderDown()):  # keys, the wheel, a typed t: a step of its own
            self.gestureDone.emit(f"Move along {d.name}")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # superqt's slider jumps to a press before it counts as down: the press starts the drag's one step
        if watched is self._groove and event.type() in PRESS_OR_RELEASE:
            self._pressed = event.type() != QEvent.Type.MouseButtonRelease
        return super().eventFilter(watched, event)

    @Slot(int)
    def _on_slider_key(self, action: int) -> None:
        """Arrow keys, Page Up/Down, Home and End: superqt's double slider reports them as QAbstractSlider's
        actions but does not move for them (superqt 0.9), so the view moves it."""
        steps = KEY_STEPS.get(QAbstractSlider.SliderAction(action))
        if steps is not None:  # the slider keeps the value within its range
            self.slider.setValue(round(self.slider.value() * T_STEPS + steps) / T_STEPS)

    @Slot()
    def _on_slider_released(self) -> None:
        d = self.current()
        if d is not None:
            self.gestureDone.emit(f"Move along {d.name}")

    @Slot()
    def go_to_analogy(self) -> None:
        try:
            (a, aw), (b, bw), (c, cw) = self._point("A"), self._point("B"), self._point("C")
        except DirectionError as e:
            self.message.setText(f"{e}.")
            return
        self._want(analogy(a, b, c), "A − B + C")
        self.gestureDone.emit("Go to A − B + C")
        self.message.setText(f"The probe is at {aw} − {bw} + {cw}; the nearest test images are shown above.")

    def _want(self, z: np.ndarray, source: str) -> None:
        self._moving = True
        try:
            self.probeWanted.emit(z, source)
        finally:
            self._moving = False

    @Slot(object)
    def _on_probe_changed(self, _z) -> None:
        if not self._moving:  # moved by other means: the slider's zero is where the probe is now
            self._reset_slider()

    def _reset_slider(self) -> None:
        self._base = None
        with signals_blocked(self.slider):
            self.slider.setValue(0.0)

    # -- following the workspace ---------------------------------------------------------------------
    @Slot(object)
    def _on_run_changed(self, _entry) -> None:
        self._points.clear()
        for name, button in (("P", self.set_p), ("Q", self.set_q), ("A", self.set_a), ("B", self.set_b),
                             ("C", self.set_c)):
            button.setText(f"{name} = probe")
        self.message.setText("")
        self.refresh_inputs()
        self._show_list()

    @Slot(object)
    def _on_directions_changed(self, entry) -> None:
        if entry is self.workspace.selected:
            self._show_list()

    def _show_list(self) -> None:
        entry = self.workspace.selected
        keep = self.list.currentItem().text() if self.list.currentItem() is not None else None
        self.list.blockSignals(True)
        self.list.clear()
        for d in entry.explorer.directions if entry is not None else []:
            item = QListWidgetItem(d.name)
            item.setToolTip(f"{d.origin} · length {np.linalg.norm(d.array):.3g}")
            self.list.addItem(item)
        names = [self.list.item(i).text() for i in range(self.list.count())]
        self.list.setCurrentRow(names.index(keep) if keep in names else self.list.count() - 1)
        self.list.blockSignals(False)
        self._on_direction_picked(self.list.currentRow())

    @Slot(int)
    def _on_direction_picked(self, _row: int) -> None:
        self._reset_slider()
        on = self.current() is not None
        for w in (self.slider, self.delete_button):
            w.setEnabled(on)
        d = self.current()
        if d is not None:
            self.message.setText(f"{d.name}: {d.origin}.")


def _point_button(name: str) -> QPushButton:
    b = QPushButton(f"{name} = probe")
    b.setToolTip(f"Remember where the probe is now as point {name} (click a test point first to use its mean)")
    return b
