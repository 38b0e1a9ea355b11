"""Run folders in the main window: open (menu, recent list, drag and drop, the demo run on first launch),
save (into the run's own folder or a new one), and the question about unsaved runs when the window closes.

A mixin of :class:`~vae_studio.ui.main_window.MainWindow` (it uses the window's workspace, training panel,
trainer, docks and status bar); kept apart so the window's file reads as layout and wiring.
"""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..app.event_loop import next_turn
from ..app.settings import read_recent, write_recent
from ..core.config import DataConfig
from ..workers.tasks import Mode, runner_for
from .training.runs_list import default_runs_dir, save_run_dialog, suggest_name

MAX_RECENT = 8
SETTINGS_RECENT = "runs/recent"
SETTINGS_DEMO_SHOWN = "runs/demoShown"


def same_data(a: DataConfig | None, b: DataConfig | None) -> bool:
    """Whether two data configurations give the same images (settings that do not apply are ignored)."""
    if a is None or b is None:
        return False

    def key(c):
        folder = c.dataset == "folder"
        root = c.root if c.dataset in ("folder", "npz") else None
        return (c.dataset, root, c.binarize, c.seed, c.image_size if folder else None, c.grayscale if folder else None)

    return key(a) == key(b)


def _dropped_folders(mime) -> list[str]:
    """Local folders (or files inside run folders) among the dropped URLs."""
    if not mime.hasUrls():
        return []
    from pathlib import Path

    paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    return [str(p if p.is_dir() else p.parent) for p in paths if p.is_dir() or p.is_file()]


class RunFilesMixin:
    ask_about_unsaved = True  # tests that do not test the question turn it off (a modal box would wait)
    _run_reader = None  # the background runner that reads run folders (made with the first one)

    # ------------------------------------------------------------------------------------------ runs
    def new_run(self) -> None:
        self.training.reset_settings()
        self.docks["training"].show()
        self.docks["training"].raise_()
        self._show_message("New run: choose its settings and press Start (earlier runs stay in the list).")

    def open_run_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", QSettings().value("runs/lastDir", "",
                                                                                            type=str))
        if path:
            self.open_run_folder(path)

    def open_run_folder(self, path: str, remember: bool = True, select: bool = True, then=None) -> None:
        """Read a run folder in the background (checking its files takes milliseconds to seconds), then add it
        to the workspace and select it (unless ``select`` is False), after loading its data set if that differs;
        ``then(entry)`` is called once it is added at once.

        Every failure is a message (the window stays as it was), never an exception."""
        if self.workspace is None:
            QMessageBox.information(self, "Open run folder", "PyTorch is still loading; try again in a moment.")
            return
        if self._run_reader is None:
            self._run_reader = runner_for(self, self.tasks, "run folders", Mode.QUEUE)
            self._run_reader.done.connect(self._on_run_read)
            self._run_reader.failed.connect(self._on_run_read_failed)
        from ..workers.run_loading import load_runs  # imports torch: not at the window's start

        ticket = self._run_reader.submit(load_runs, [path])
        self._reading[ticket] = (path, remember, select, then)

    @Slot(int, object)
    def _on_run_read(self, ticket: int, result) -> None:
        if ticket not in self._reading:
            return
        path, remember, select, then = self._reading.pop(ticket)
        (_folder, run), = result
        if isinstance(run, str):  # load_runs's one-line message
            self._on_run_read_failed(ticket, run, path)
            return
        if remember:
            self._add_recent(str(run.folder))
        self.training.set_config(run.config)
        if same_data(run.config.data, self.training.data_config) and self.workspace.data is not None:
            entry = self.workspace.add_run(run, select=select)
            self._show_message(f"Opened {run.name} from {run.folder}")
            self._tell_notes(run)
            if then is not None:
                then(entry)
            return
        request = self.training.load_data(run.config.data)
        if request is None:
            QMessageBox.warning(self, "Open run folder", f"Cannot load the data set of {run.name}.")
            return
        self._pending_runs[request] = run
        self._show_message(f"Loading {run.config.data.dataset} for {run.name}…")

    @Slot(int, str)
    def _on_run_read_failed(self, ticket: int, message: str, path: str | None = None) -> None:
        path = path or self._reading.pop(ticket, ("",))[0]
        QMessageBox.warning(self, "Open run folder", message if path in message else f"Could not open {path}: {message}")

    def open_demo_run(self) -> None:
        """The small model shipped with VAE Studio (trained on the built-in sprites), to explore at once."""
        from ..resource_paths import demo_run_path

        QSettings().setValue(SETTINGS_DEMO_SHOWN, True)
        self.open_run_folder(str(demo_run_path()), remember=False, select=False, then=self._on_demo_run_added)

    def _on_demo_run_added(self, entry) -> None:
        entry.run.folder = None  # not the user's folder: Save asks where, nothing overwrites the package
        # shown in the next event-loop turn: adding it and showing it in every panel are two short pauses of the
        # window at launch rather than one long one
        next_turn(self, partial(self._show_demo_run, entry))

    def _show_demo_run(self, entry) -> None:
        if self.workspace.entry(entry) is None or self.workspace.selected is not None:
            return  # removed, or the user chose another run meanwhile
        self.workspace.select_run(entry)
        self.docks["latent"].raise_()
        self._show_message("Opened the demo run (sprites, beta 4): drag the probe in the latent explorer; "
                           "press Start to train your own.")

    @Slot(int)
    def _on_data_loaded(self, request: int) -> None:
        if self._open_demo and self.workspace is not None and self.workspace.data is not None \
                and self.workspace.data.name == "sprites":
            self._open_demo = False
            self.open_demo_run()
        for req in [r for r in self._pending_runs if r != request]:  # superseded by a newer data set
            self._pending_runs.pop(req)
        run = self._pending_runs.pop(request, None)
        if run is not None:
            self.workspace.add_run(run)
            self._show_message(f"Opened {run.name} from {run.folder}")
            self._tell_notes(run)

    def _tell_notes(self, run) -> None:
        """What loading left out (a damaged explorer.json: the model opened, its bookmarks did not)."""
        if run.notes:
            QMessageBox.warning(self, "Open run folder", f"Opened {run.name}. " + " ".join(run.notes))

    @Slot(int, str)
    def _on_data_failed(self, request: int, message: str) -> None:
        run = self._pending_runs.pop(request, None)
        if run is not None:
            QMessageBox.warning(self, "Open run folder", f"{run.name} was trained on "
                                f"{run.config.data.dataset}, which could not be loaded: {message}")

    def save_run(self) -> None:
        """Save the current run into its own folder (replacing what was saved there); ask where if it has none."""
        run = self._run_to_save()
        if run is None:
            return
        if run.folder is None:
            self.save_run_as()
            return
        from ..core.checkpoint import CheckpointError, save_run

        if self.trainer.is_training(run):
            QMessageBox.information(self, "Save run", f"{run.name} is still training. Stop it or let it finish "
                                    "before saving it.")
            return
        try:
            save_run(run.run, run.folder, overwrite=True)
        except (OSError, CheckpointError) as e:
            QMessageBox.warning(self, "Save run", f"Could not save {run.name} to {run.folder}: "
                                f"{getattr(e, 'strerror', None) or e}")
            return
        self._on_run_saved(run, run.folder)

    def save_run_as(self) -> None:
        run = self._run_to_save()
        if run is not None:
            folder = save_run_dialog(self, run)
            if folder is not None:
                self._on_run_saved(run, folder)

    def _run_to_save(self):
        run = self.workspace.selected if self.workspace is not None else None
        if run is None:
            QMessageBox.information(self, "Save run", "There is no run to save yet: train or open one first.")
        return run

    # ------------------------------------------------------------------------------------------ sweeps
    # File > Open sweep folder: every run of a sweep joins the session (the metrics panel compares them); runs
    # of a sweep still running join as their trials finish (app/sweep_watcher.py polls the folder and loads
    # new runs in the background). Runs wait in _sweep_waiting while their data set loads.
    sweep_watcher = None

    def open_sweep_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a sweep folder", QSettings().value("runs/lastDir", "",
                                                                                              type=str))
        if path:
            self.open_sweep_folder(path)

    def open_sweep_folder(self, path: str) -> None:
        """Bring every run of the sweep in ``path`` into the session, and keep watching it for new runs."""
        if self.workspace is None:
            QMessageBox.information(self, "Open sweep folder", "PyTorch is still loading; try again in a moment.")
            return
        from pathlib import Path

        if not Path(path).is_dir():
            QMessageBox.warning(self, "Open sweep folder", f"{path} is not a folder.")
            return
        if self.sweep_watcher is None:
            from ..app.sweep_watcher import SweepWatcher

            self.sweep_watcher = SweepWatcher(self.tasks, self)
            self.sweep_watcher.runsFound.connect(self._on_sweep_runs)
            self.sweep_watcher.loadFailed.connect(self._on_sweep_run_failed)
            self.training.dataLoaded.connect(self._add_sweep_runs)
            self.training.dataFailed.connect(self._on_sweep_data_failed)
        self._sweep_waiting: list = []
        self._sweep_data_request = None
        self.sweep_watcher.watch(path)
        QSettings().setValue("runs/lastDir", str(Path(path).parent))
        self._show_message(f"Opened sweep {Path(path).name}: its runs appear in the list as their trials finish")

    @Slot(object)
    def _on_sweep_runs(self, runs) -> None:
        self._sweep_waiting.extend(runs)
        self._add_sweep_runs()

    @Slot()
    def _add_sweep_runs(self, *_request) -> None:
        """Add the waiting runs whose data set the workspace holds; load the data set of the others."""
        waiting, added = [], []
        for run in getattr(self, "_sweep_waiting", []):
            if self.workspace.data is not None and same_data(run.config.data, self.training.data_config):
                added.append(self.workspace.add_run(run, select=self.workspace.selected is None))
            else:
                waiting.append(run)
        self._sweep_waiting = waiting
        if waiting and not self.training.data_loading:
            self._sweep_data_request = self.training.load_data(waiting[0].config.data)
        if added:
            self._show_message(f"Sweep {self.sweep_watcher.folder.name}: added {', '.join(r.name for r in added)}")

    @Slot(str, str)
    def _on_sweep_run_failed(self, folder: str, message: str) -> None:
        self._show_message(f"Could not open {folder}: {message}")

    @Slot(int, str)
    def _on_sweep_data_failed(self, request: int, message: str) -> None:
        if request == getattr(self, "_sweep_data_request", None) and self._sweep_waiting:
            run = self._sweep_waiting[0]
            dropped = [r for r in self._sweep_waiting if r.config.data.dataset == run.config.data.dataset]
            self._sweep_waiting = [r for r in self._sweep_waiting if r not in dropped]
            QMessageBox.warning(self, "Open sweep folder", f"{len(dropped)} run(s) of the sweep were trained on "
                                f"{run.config.data.dataset}, which could not be loaded: {message}")

    # ------------------------------------------------------------------------------------------ drop
    def dragEnterEvent(self, event) -> None:
        if _dropped_folders(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = _dropped_folders(event.mimeData())
        if folders:
            event.acceptProposedAction()
            for folder in folders:
                self.open_run_folder(folder)

    @Slot(object, object)
    def _on_run_saved(self, run, folder) -> None:
        self.workspace.update_status(run)
        self._add_recent(str(folder))
        self._show_message(f"Saved {run.name} to {folder}")

    # ------------------------------------------------------------------------------------------ recent
    def recent_runs(self) -> list[str]:
        return read_recent(SETTINGS_RECENT, MAX_RECENT)

    def _add_recent(self, path: str) -> None:
        write_recent(SETTINGS_RECENT, ([path] + [p for p in self.recent_runs() if p != path])[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent_runs()
        for path in items:
            a = self.recent_menu.addAction(path)
            a.setData(path)
            a.triggered.connect(lambda _checked=False, p=path: self.open_run_folder(p))  # a GUI-thread signal
        if not items:
            a = self.recent_menu.addAction("(no recent runs)")
            a.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self._clear_recent)

    @Slot()
    def _clear_recent(self) -> None:
        write_recent(SETTINGS_RECENT, [])
        self._rebuild_recent()

    # ------------------------------------------------------------------------------------------ closing

    def unsaved_runs(self) -> list:
        """Runs with trained weights that exist only in memory (never saved, not opened from a folder), and
        runs whose bookmarks, directions or code prior changed since they were saved or opened."""
        runs = self.workspace.runs if self.workspace is not None else []
        return [r for r in runs if (r.folder is None and (r.history.epochs or r.history.steps))
                or r.run.explorer_unsaved or r.run.prior_unsaved]

    def _confirm_close(self) -> bool:
        """Ask what to do with unsaved runs: save them all into one folder, discard them, or keep the window."""
        runs = self.unsaved_runs()
        if not runs or not self.ask_about_unsaved:
            return True
        names = ", ".join(r.name for r in runs[:6]) + (", …" if len(runs) > 6 else "")
        box = QMessageBox(QMessageBox.Icon.Warning, "Close VAE Studio",
                          f"{len(runs)} run{'s are' if len(runs) > 1 else ' is'} not saved ({names}). "
                          "What was not saved (weights and curves; bookmarks and directions) is lost when "
                          "VAE Studio closes.",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.button(QMessageBox.StandardButton.Save).setText("Save all…")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if answer != QMessageBox.StandardButton.Save:
            return False
        parent = ""
        if any(r.folder is None for r in runs):
            parent = QFileDialog.getExistingDirectory(self, "Save the unsaved runs into", default_runs_dir())
            if not parent:
                return False
        self.training.shutdown()  # a run still training stops and keeps its weights, then is saved too
        return self.save_runs_into(runs, parent)

    def save_runs_into(self, runs, parent: str) -> bool:
        """Save each run: one opened from (or saved to) a folder into that folder again, any other as its own
        folder (named from its settings) inside ``parent``; False if one failed."""
        from pathlib import Path

        from ..core.checkpoint import save_run

        for run in runs:
            if run.folder is not None:
                folder = Path(run.folder)
            else:
                base = Path(parent) / suggest_name(run)
                folder, k = base, 2
                while folder.exists():
                    folder, k = base.with_name(f"{base.name}-{k}"), k + 1
            try:
                save_run(getattr(run, "run", run), folder, overwrite=run.folder is not None)
            except OSError as e:
                QMessageBox.warning(self, "Save runs", f"Could not save {run.name} to {folder}: {e.strerror or e}")
                return False
            self._add_recent(str(folder))
        if parent:
            QSettings().setValue("runs/lastDir", str(parent))
        return True
