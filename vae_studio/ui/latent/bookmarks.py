"""Bookmarks: named positions of the probe, kept with the run. Add one where the probe is, go back to one,
delete one (Edit ▸ Undo brings it back), export the traversal grid of each as a PNG.

A view of the selected run's bookmarks (``entry.explorer.bookmarks``, state of the workspace: adding and
deleting go through undo commands and the list follows ``bookmarksChanged``). Going to a bookmark emits
``probeWanted`` and ``gestureDone`` (the panel moves the probe, as one undoable step). The export draws each
bookmark's grid with the traversal's current settings (``export_png_at``, given by the panel).
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (QFileDialog, QLabel, QLineEdit, QListWidget, QMessageBox, QPushButton,
                               QVBoxLayout, QWidget)

from ...core.explorer_state import MAX_NAME, Bookmark, unique_name
from ..widgets.compact import FlowLayout
from ..widgets.undo import ExplorerItemCommand

SETTINGS_EXPORT_DIR = "explorer/bookmarkExportDir"


def file_name(name: str) -> str:
    """A bookmark's name as a safe file name (letters, digits, - and _ kept; the rest becomes _)."""
    return re.sub(r"[^\w\-]+", "_", name, flags=re.ASCII).strip("_")[:80] or "bookmark"


class BookmarksView(QWidget):
    probeWanted = Signal(object, str)
    gestureDone = Signal(str)

    def __init__(self, workspace, explorer, undo_stack, export_png_at, parent=None):
        """``export_png_at(z, path)``: writes the traversal grid at latent vector ``z`` to ``path``."""
        super().__init__(parent)
        self.workspace, self.explorer, self.undo_stack = workspace, explorer, undo_stack
        self._export_png_at = export_png_at
        self.name = QLineEdit()
        self.name.setMaxLength(MAX_NAME)
        self.name.setPlaceholderText("name (optional)")
        self.name.setToolTip("A name for the probe's position; left empty, it is numbered")
        self.add_button = QPushButton("Bookmark the probe")
        self.add_button.setToolTip("Keep the probe's position under this name (saved with the run)")
        self.list = QListWidget()
        self.list.setToolTip("This run's bookmarks, saved with it. Double-click one to put the probe there.")
        self.go_button = QPushButton("Go to")
        self.go_button.setToolTip("Put the probe at the bookmark picked in the list")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the bookmark picked in the list (Edit ▸ Undo brings it back)")
        self.export_button = QPushButton("Export traversals…")
        self.export_button.setToolTip("Save the traversal grid of every bookmark as a PNG (one file each, named "
                                      "after it), with the traversal tab's range, steps and rows")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: gray")
        top = FlowLayout()
        top.addWidget(self.name)
        top.addWidget(self.add_button)
        bottom = FlowLayout()
        for w in (self.go_button, self.delete_button, self.export_button):
            bottom.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.list, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.message)

        self.name.returnPressed.connect(self.add_bookmark)
        self.add_button.clicked.connect(self.add_bookmark)
        self.go_button.clicked.connect(self.go_to_current)
        self.list.itemDoubleClicked.connect(self.go_to_current)
        self.list.currentRowChanged.connect(self._update_enabled)
        self.delete_button.clicked.connect(self.delete_current)
        self.export_button.clicked.connect(self._on_export_clicked)
        workspace.bookmarksChanged.connect(self._on_bookmarks_changed)
        workspace.selectedRunChanged.connect(self._on_run_changed)
        self._on_run_changed(workspace.selected)

    def bookmarks(self) -> list[Bookmark]:
        entry = self.workspace.selected
        return list(entry.explorer.bookmarks) if entry is not None else []

    def current(self) -> Bookmark | None:
        items, row = self.bookmarks(), self.list.currentRow()
        return items[row] if 0 <= row < len(items) else None

    @Slot()
    def add_bookmark(self) -> None:
        entry = self.workspace.selected
        if entry is None or self.explorer.dim == 0:
            return
        taken = {b.name for b in self.bookmarks()}
        name = self.name.text().strip() or next(f"bookmark {k}" for k in itertools.count(1)
                                                if f"bookmark {k}" not in taken)
        self.undo_stack.push(ExplorerItemCommand(self.workspace, entry, "bookmark",
                                                 Bookmark.of(name, self.explorer.probe)))
        self.name.clear()
        self.list.setCurrentRow(self.list.count() - 1)

    @Slot()
    def go_to_current(self, *_args) -> None:
        b = self.current()
        if b is None:
            return
        self.probeWanted.emit(b.array, f"bookmark {b.name}")
        self.gestureDone.emit(f"Go to bookmark {b.name}")

    @Slot()
    def delete_current(self) -> None:
        b, entry = self.current(), self.workspace.selected
        if b is not None and entry is not None:
            self.undo_stack.push(ExplorerItemCommand(self.workspace, entry, "bookmark", b, delete=True))

    # -- export --------------------------------------------------------------------------------------
    def export_traversals(self, folder) -> list[Path]:
        """Write ``<name>.png``, the traversal grid of each bookmark, into ``folder``; the paths written."""
        folder = Path(folder)
        written, taken = [], set()
        for b in self.bookmarks():
            stem = unique_name(file_name(b.name), taken)
            taken.add(stem)
            path = folder / f"{stem.replace(' ', '_')}.png"
            self._export_png_at(b.array, path)
            written.append(path)
        return written

    @Slot()
    def _on_export_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the bookmarks' traversals into",
                                                  QSettings().value(SETTINGS_EXPORT_DIR, "", type=str))
        if not folder:
            return
        QSettings().setValue(SETTINGS_EXPORT_DIR, folder)
        try:
            written = self.export_traversals(folder)
        except (OSError, ValueError) as e:
            QMessageBox.warning(self, "Export traversals", f"Could not export into {folder}: {e}")
            return
        self.workspace.show_message(f"Saved {len(written)} traversal grid(s) to {folder}")

    # -- following the workspace ---------------------------------------------------------------------
    @Slot(object)
    def _on_run_changed(self, _entry) -> None:
        self._show_list()

    @Slot(object)
    def _on_bookmarks_changed(self, entry) -> None:
        if entry is self.workspace.selected:
            self._show_list()

    def _show_list(self) -> None:
        row = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for b in self.bookmarks():
            self.list.addItem(b.name)
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self.list.blockSignals(False)
        self._update_enabled()

    @Slot()
    def _update_enabled(self, *_args) -> None:
        on = self.current() is not None
        self.go_button.setEnabled(on)
        self.delete_button.setEnabled(on)
        self.export_button.setEnabled(bool(self.bookmarks()))
        self.message.setText("" if self.bookmarks() else
                             "No bookmarks yet: put the probe somewhere worth keeping and bookmark it.")
