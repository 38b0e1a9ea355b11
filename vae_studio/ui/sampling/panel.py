"""The sampling canvas: prior samples, interpolation between two endpoints, and the user's own image.

Everything shown is decoded with ``workspace.decode_model()`` (an eval copy on the decode device chosen in the
main window), never with a model being trained. This file is the panel's layout and wiring: the top bar (the
model, the class a conditional model decodes with), the workspace's signals, dropping an image file, closing.
The prior-samples column is :mod:`.prior_samples` (a mixin: the grid, its controls and its decoding), the
right-hand column the :mod:`.interpolation` and :mod:`.user_image` boxes.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QScrollArea, QSplitter, QStackedWidget, QVBoxLayout,
                               QWidget)

from ...core.latent_space import space_for
from ...workers.tasks import Mode, runner_for
from ..widgets.compact import ElidedComboBox
from ..widgets.variant_names import model_title
from ..widgets.when_shown import WhenShown
from .interpolation import InterpolationBox
from .prior_samples import PriorSamplesMixin
from .user_image import UserImageBox

EMPTY_TEXT = "Train a model or open a run to sample from it"


class SamplingPanel(PriorSamplesMixin, QWidget):
    def __init__(self, workspace, parent=None, tasks=None):
        """``tasks``: the window's TaskHub (the panel makes its own runner without one)."""
        super().__init__(parent)
        self.setObjectName("samplingPanel")
        self.setAcceptDrops(True)
        self.workspace = workspace
        self.decoder = runner_for(self, tasks, "decode", Mode.LATEST)  # big grids, latest request wins

        # -- top bar: model, decode device, class ---------------------------------------------------
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.class_combo = ElidedComboBox(min_chars=8)
        self.class_combo.setToolTip("The class a conditional model decodes (and encodes your image) with")
        self.class_label = QLabel("Class")
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(self.class_label)
        top.addWidget(self.class_combo)

        # -- prior samples (prior_samples.py) ------------------------------------------------------------
        prior = self._build_prior_samples(workspace, tasks)

        # -- interpolation and the user's image ---------------------------------------------------------
        self.interp = InterpolationBox(workspace, self.current_label)
        self.user_image = UserImageBox(workspace, self.current_label)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.interp, 3)
        rl.addWidget(self.user_image, 2)
        # a short window scrolls this column rather than squeezing it
        self.right_scroll = QScrollArea()
        self.right_scroll.setWidget(right)
        self.right_scroll.setWidgetResizable(True)
        self.right_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.right_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.right_scroll.setMinimumWidth(right.minimumSizeHint().width()
                                          + self.right_scroll.verticalScrollBar().sizeHint().width())
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(prior)
        split.addWidget(self.right_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([3000, 2000])  # proportions: the prior grid gets 60%
        self.splitter = split
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(top)
        cl.addWidget(split, 1)

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        QVBoxLayout(self).addWidget(self.stack)

        # -- wiring ------------------------------------------------------------------------------------
        self.class_combo.currentIndexChanged.connect(self._on_class)
        self.user_image.useAsEndpoint.connect(self._on_use_image)
        self.interp.message.connect(self._on_message)
        self.user_image.message.connect(self._on_message)
        self.when_shown = WhenShown(self)  # behind another tab: decode once it is shown, not for nobody
        workspace.selectedRunChanged.connect(self._on_run_selected)
        workspace.runUpdated.connect(self._on_run_updated)
        workspace.decodeDeviceChanged.connect(self._on_device)
        workspace.dataChanged.connect(self._on_data)
        self._show_selected_run()

    # -- state -------------------------------------------------------------------------------------
    def current_label(self) -> int | None:
        """The chosen class for a conditional model, None for a plain VAE."""
        model = self.workspace.decode_model()
        if model is None or not model.conditional:
            return None
        return max(0, self.class_combo.currentIndex())

    # -- slots: the panel's own controls -----------------------------------------------------------------
    @Slot(int)
    def _on_class(self, _index: int) -> None:
        self.redraw_grid()
        self.interp.refresh()

    @Slot(str, str)
    def _on_use_image(self, which: str, path: str) -> None:
        picker = self.interp.a if which == "A" else self.interp.b
        picker.invert = self.user_image.invert.isChecked()
        picker.set_file(path)

    @Slot(str)
    def _on_message(self, text: str) -> None:
        self.workspace.show_message(text)

    # -- slots: the workspace --------------------------------------------------------------------------
    @Slot(object)
    def _on_run_selected(self, _run) -> None:
        self.when_shown.run(self._show_selected_run)

    def _show_selected_run(self) -> None:
        """Set the selected run up: its class choice, levels, label, grid and interpolation."""
        run = self.workspace.selected
        self.user_image.reset()
        model = self.workspace.decode_model(run) if run is not None else None
        self.stack.setCurrentIndex(0 if model is None else 1)
        if model is None:
            self.images = self.latents = None
            self.grid.clear("")
            self.interp._clear("")
            return
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        if model.conditional:
            self.class_combo.addItems(self._class_names(model.num_classes))
        self.class_combo.blockSignals(False)
        for w in (self.class_combo, self.class_label, self.per_class):
            w.setVisible(model.conditional)
        self.fixed_top.setVisible(len(space_for(model).level_names) > 1)
        self._update_model_label()
        self.grid.select(None)
        self.redraw_grid()
        self.interp.refresh()

    @Slot(object)
    def _on_run_updated(self, run) -> None:
        if run is self.workspace.selected:
            self.when_shown.run(self._redecode)

    @Slot(str)
    def _on_device(self, _device: str) -> None:
        if self.workspace.selected is not None:
            self._update_model_label()
            self.when_shown.run(self._redecode)

    @Slot(object)
    def _on_data(self, _data) -> None:
        if self.workspace.selected is not None:
            self.when_shown.run(self.interp.refresh)

    def _redecode(self) -> None:
        """New weights (or a new decode device): the grid and the interpolation decoded again."""
        if self.workspace.selected is not None:
            self.redraw_grid()
            self.interp.refresh()

    def _update_model_label(self) -> None:
        run = self.workspace.selected
        m = run.config.model
        dim = space_for(run.model).dim
        self.model_label.setText(f"<b>{run.name or 'Run'}</b>: {html.escape(model_title(m))} ({m.arch.upper()}), "
                                 f"{dim} latent coordinates, {m.image_size}×{m.image_size} · decoding on "
                                 f"{self.workspace.decode_device}")

    def _class_names(self, k: int) -> list[str]:
        run = self.workspace.selected
        names = list(run.class_names) if run is not None else []
        return names[:k] if len(names) >= k else [str(i) for i in range(k)]

    # -- drag and drop -------------------------------------------------------------------------------
    @staticmethod
    def _dropped_file(mime) -> str | None:
        if not mime.hasUrls():
            return None
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        return files[0] if files else None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = self._dropped_file(event.mimeData())
        if not path:
            event.ignore()
            return
        event.acceptProposedAction()
        if self.workspace.selected is None:
            self.empty.setText(EMPTY_TEXT + "\n(then drop your image again)")
            return
        self.user_image.open_file(path)

    # -- closing -------------------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Stop the animation and the decode thread (stop flag, quit, wait); safe to call twice."""
        self.interp.stop()
        self.decoder.shutdown()
        self.prior_fit.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
