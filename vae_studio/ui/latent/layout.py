"""The latent explorer's layout: which widgets it has and where they sit, and which of their signals reach
which of the panel's handlers. A mixin of :class:`~.panel.LatentPanel`, built in two steps (the scatter
column, then the tools column and the wiring) so that the window can build it over two turns at launch.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSplitter, QStackedLayout, QVBoxLayout, QWidget

from ..widgets.compact import StatusLines
from .controls import AxesBar, ProbeBar
from .images import ExplorerImages
from .levels import LevelBar
from .scatter import LatentScatter
from .tools import ExplorerTools
from .traversal import TraversalView

EMPTY_TEXT = "Train a model or open a run to explore its latent space"


class LatentLayoutMixin:
    def _build_scatter_column(self) -> None:
        """The empty page, and the explorer page with its left-hand column: axes, status, scatter, probe."""
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: gray; font-size: 14px")

        self.axes_bar = AxesBar()
        self.level_bar = LevelBar()  # a model with levels: which one the scatter shows (hidden otherwise)
        self.live = QCheckBox("Live")
        self.live.setToolTip("Follow a run while it trains within each epoch: its weights are published "
                             "twice a second and the scatter, probe image and traversal follow them "
                             "(without Live they follow at every epoch end)")
        self.status = StatusLines(2)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.live)

        self.scatter = LatentScatter()
        self.scatter.setToolTip("Test split, one point per image (its latent mean). Drag the red probe to "
                                "decode any point; click a point to anchor the probe there; hover for its "
                                "index and class; click empty space to move the probe there.")
        self.probe_bar = ProbeBar()

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.level_bar)
        lv.addWidget(self.axes_bar)
        lv.addLayout(status_row)
        lv.addWidget(self.embedding_job)
        lv.addWidget(self.scatter, 1)
        lv.addWidget(self.probe_bar)

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(left)
        explorer = QWidget()
        ev = QVBoxLayout(explorer)
        ev.setContentsMargins(4, 4, 4, 4)
        ev.addWidget(self.main_split)
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(explorer)

    def _build_tools_column(self) -> None:
        """The right-hand column: the images, then the nearest test images and the tools' tabs."""
        self.images = ExplorerImages()
        self.traversal = TraversalView()
        # neighbours, then tabs: traversal, directions, bookmarks (tools.py)
        self.tools = ExplorerTools(self.workspace, self.explorer, self.undo_stack, self.traversal)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.images)
        right.addWidget(self.tools)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 2)
        right.setSizes([1000, 2000])  # the images are square (width-bound): the traversal gets two thirds
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(0, 1)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([2750, 2250])  # proportions: the scatter gets 55%

    def _connect_views(self) -> None:
        self.level_bar.levelChosen.connect(self._on_level_chosen)
        self.tools.codesEdited.connect(self._on_codes_edited)
        self.axes_bar.projectionChosen.connect(self._on_projection_chosen)
        self.axes_bar.axisChosen.connect(self._on_axis_chosen)
        self.axes_bar.refitClicked.connect(self._on_refit_pca)
        pb = self.probe_bar
        pb.x_spin.valueChanged.connect(self._on_x_typed)
        pb.y_spin.valueChanged.connect(self._on_y_typed)
        pb.class_combo.currentIndexChanged.connect(self._on_class_changed)
        pb.reset_anchor.clicked.connect(self._on_reset_anchor)
        self.live.setChecked(self.workspace.live_weights)
        self.live.toggled.connect(self._on_live_toggled)
        self.scatter.probeMoved.connect(self._on_probe_moved)
        self.scatter.pointClicked.connect(self._on_point_clicked)
        self.scatter.backgroundClicked.connect(self.move_probe)
        self.scatter.pointsDrawn.connect(self._on_points_drawn)
        self.tools.probeWanted.connect(self.go_to_vector)
        self.tools.gestureDone.connect(self._probe_move_done)
        self.tools.pointClicked.connect(self._on_point_clicked)
        self.scatterUpdated.connect(self.tools.split_changed)
