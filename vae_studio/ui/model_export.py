"""File ▸ Export model: the selected run's encoder mean and decoder as ONNX, with the latent space described in
JSON (:func:`~vae_studio.core.onnx_export.export_onnx`), written in the background.

The export runs on a copy of the run's latest published weights (never the model being trained) in a task
runner of the window's hub (torch is imported when the action is used, not at start-up); the status bar says where the files went, a message box says why not.
"""
from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from ..workers.tasks import Mode, runner_for
from .widgets.file_dialogs import ask_folder

TITLE = "Export model"


def export_task(_state, model, folder: str, class_names: list[str], name: str) -> list[Path]:
    from ..core.onnx_export import export_onnx

    return export_onnx(model, folder, class_names=class_names, name=name)


class ModelExporter(QObject):
    exported = Signal(str)  # the folder written
    failed = Signal(str)

    def __init__(self, window: QWidget, tasks=None):
        super().__init__(window)
        self.window = window
        self.runner = runner_for(self, tasks, "export", Mode.QUEUE)
        self.runner.done.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        self._folders: dict[int, str] = {}

    @Slot()
    def export_selected(self) -> None:
        """Ask for a folder and export the selected run into it."""
        workspace = getattr(self.window, "workspace", None)
        run = workspace.selected if workspace is not None else None
        if run is None:
            QMessageBox.information(self.window, TITLE, "There is no run to export: train one or open a run folder.")
            return
        from ..core.onnx_export import FILES, missing_dependency  # torch: imported once the window is up

        problem = missing_dependency()
        if problem:
            QMessageBox.information(self.window, TITLE, problem + ", then restart VAE Studio.")
            return
        folder = ask_folder(self.window, f"Export {run.name} as ONNX into")
        if not folder:
            return
        there = [f for f in FILES if (Path(folder) / f).exists()]
        if there and QMessageBox.question(self.window, TITLE, f"{folder} already has {', '.join(there)}. "
                                          "Replace them?") != QMessageBox.StandardButton.Yes:
            return
        model = copy.deepcopy(workspace.decode_model(run)).cpu()
        ticket = self.runner.submit(export_task, model, folder, list(run.class_names), run.name)
        self._folders[ticket] = folder
        workspace.show_message(f"Exporting {run.name} to {folder}…")

    @Slot(int, object)
    def _on_done(self, ticket: int, paths) -> None:
        folder = self._folders.pop(ticket, "")
        workspace = getattr(self.window, "workspace", None)
        if workspace is not None:
            workspace.show_message(f"Model exported to {folder}: {', '.join(p.name for p in paths)}")
        self.exported.emit(folder)

    @Slot(int, str)
    def _on_failed(self, ticket: int, message: str) -> None:
        folder = self._folders.pop(ticket, "")
        QMessageBox.warning(self.window, TITLE, f"Could not export the model to {folder}: {message}")
        self.failed.emit(message)
