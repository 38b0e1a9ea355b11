"""The latent explorer's right-hand column below the images: the nearest test images to the probe, then
tabs for the traversal grid, directions (with latent arithmetic) and bookmarks, and for a discrete latent space
the codebook with the probe's code map (shown first: ``show_codebook``).

It only builds and groups these views and forwards what they ask of the panel: ``probeWanted`` (put the probe
at a latent vector), ``gestureDone`` (that move is one undoable step) and ``pointClicked`` (a neighbour was
clicked: anchor the probe at that test point).
"""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from .bookmarks import BookmarksView
from .codebook import CodebookView
from .directions import DirectionsView
from .neighbours import NeighboursView


class ExplorerTools(QWidget):
    probeWanted = Signal(object, str)  # latent vector, where it comes from in words
    gestureDone = Signal(str)  # undo text of the move just made
    pointClicked = Signal(int)  # index into the test split
    codesEdited = Signal(object)  # the code map after the user swapped a cell's code (CodebookView.codesEdited)

    def __init__(self, workspace, explorer, undo_stack, traversal, parent=None):
        super().__init__(parent)
        self.neighbours = NeighboursView(workspace, explorer)
        self.directions = DirectionsView(workspace, explorer, undo_stack)
        self.bookmarks = BookmarksView(workspace, explorer, undo_stack, traversal.export_png_at)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(traversal, "Traversal")
        self.tabs.addTab(self.directions, "Directions")
        self.tabs.addTab(self.bookmarks, "Bookmarks")
        self.tabs.setTabToolTip(0, "Each latent dimension swept around the probe, one row per dimension")
        self.tabs.setTabToolTip(1, "Directions in latent space (two classes, a known factor, two points) and "
                                   "A − B + C: move the probe along them")
        self.tabs.setTabToolTip(2, "Named positions of the probe, saved with the run")
        self._codebook: CodebookView | None = None  # built for the first discrete latent space (8 ms at launch)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.neighbours)
        lay.addWidget(self.tabs, 1)
        for view in (self.directions, self.bookmarks):
            view.probeWanted.connect(self.probeWanted)
            view.gestureDone.connect(self.gestureDone)
        self.neighbours.pointClicked.connect(self.pointClicked)

    @property
    def codebook(self) -> CodebookView:
        """The Codes tab (first, hidden until :meth:`show_codebook` gets a codebook), built when first asked for."""
        if self._codebook is None:
            self._codebook = CodebookView()
            self.tabs.insertTab(0, self._codebook, "Codes")
            self.tabs.setTabToolTip(0, "The codebook (size: usage) and the probe's code map: swap a cell's code")
            self.tabs.setTabVisible(0, False)
            self._codebook.codesEdited.connect(self.codesEdited)
        return self._codebook

    def show_codebook(self, codebook) -> None:
        """(K, D) code vectors of a discrete latent space: the Codes tab shows (and comes first); None hides it."""
        shown = codebook is not None
        if not shown and self._codebook is None:
            return
        if shown:
            self.codebook.set_codebook(codebook)
        was = self.tabs.isTabVisible(0)
        self.tabs.setTabVisible(0, shown)
        if shown and not was:
            self.tabs.setCurrentIndex(0)
        elif not shown and self.tabs.currentIndex() == 0:
            self.tabs.setCurrentIndex(1)

    @Slot()
    def split_changed(self) -> None:
        """A new encoding of the test split is shown: new neighbours, new classes to choose from."""
        self.neighbours.refresh()
        self.directions.refresh_inputs()
