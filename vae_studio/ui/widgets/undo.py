"""Undoable changes to the workspace, as Qt undo commands (Edit ▸ Undo / Redo in the main window).

Each command only calls the workspace's own methods; the views follow the workspace's signals as for any
other change. A removed run keeps its entry (id, colour, weights, metrics), so undo brings it back as it was,
in its old place in the list.
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack


class RemoveRunsCommand(QUndoCommand):
    def __init__(self, workspace, entries):
        names = ", ".join(e.name for e in entries[:3]) + ("…" if len(entries) > 3 else "")
        super().__init__(f"Remove {names}")
        self.workspace = workspace
        self.entries = list(entries)
        self.places: list[tuple[int, object]] = []
        self.selected = None

    def redo(self) -> None:
        self.selected = self.workspace.selected
        self.places = []
        for entry in self.entries:
            index = self.workspace.remove_run(entry)
            if index is not None:
                self.places.append((index, entry))

    def undo(self) -> None:
        for index, entry in reversed(self.places):
            self.workspace.add_run(entry, select=False, index=index)
        if self.selected is not None:
            self.workspace.select_run(self.selected)


class RenameRunCommand(QUndoCommand):
    def __init__(self, workspace, entry, name: str):
        super().__init__(f"Rename {entry.name} to {name}")
        self.workspace, self.entry = workspace, entry
        self.old, self.new = entry.name, name

    def redo(self) -> None:
        self.workspace.rename_run(self.entry, self.new)

    def undo(self) -> None:
        self.workspace.rename_run(self.entry, self.old)


class ProbeCommand(QUndoCommand):
    """The latent explorer's probe and anchor moved (a drag, a click, typed coordinates, Reset anchor): undo
    puts both back. Pushed after the move happened, so the first redo does nothing."""

    def __init__(self, view, before, after, text: str):
        super().__init__(text)
        self.view, self.before, self.after = view, before, after
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.view.restore_probe_state(self.after)

    def undo(self) -> None:
        self.view.restore_probe_state(self.before)


def new_undo_stack(parent=None) -> QUndoStack:
    stack = QUndoStack(parent)
    stack.setUndoLimit(100)
    return stack


class ExplorerItemCommand(QUndoCommand):
    """A bookmark or a direction (``kind``: "bookmark" or "direction") added to a run, or deleted from it.
    Undo deletes what was added, or puts back what was deleted in its old place in the list."""

    def __init__(self, workspace, entry, kind: str, item, delete: bool = False):
        super().__init__(f"{'Delete' if delete else 'Add'} {kind} {item.name}")
        self.workspace, self.entry, self.item, self.delete, self.kind = workspace, entry, item, delete, kind
        self._add = getattr(workspace, f"add_{kind}")
        self._remove = getattr(workspace, f"remove_{kind}")
        self.index: int | None = None

    def redo(self) -> None:
        if self.delete:
            removed = self._remove(self.entry, self.item.name)
            self.index = removed[0] if removed else None
        else:
            added = self._add(self.entry, self.item, self.index)
            self.index = None if added is None else self.index
            self.item = added or self.item  # its name made unique in the list

    def undo(self) -> None:
        if self.delete:
            if self.index is not None:
                self._add(self.entry, self.item, self.index)
        elif self.item in getattr(self.entry.explorer, f"{self.kind}s"):
            self.index = self._remove(self.entry, self.item.name)[0]
