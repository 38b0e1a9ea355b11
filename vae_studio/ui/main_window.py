"""The main window: the three panels as dock widgets, menus, the decode-device selector and the status bar.

Start-up is staged so the window shows before torch is imported: the window and the training panel's
controls need only Qt; a :class:`~vae_studio.workers.data_loader.DataLoader` imports torch and loads the
built-in sprites in the background, then :meth:`MainWindow.attach` creates the workspace and the panels that
need it. Tests pass a ready :class:`~vae_studio.app.workspace.Workspace` (and their own small data set).
"""
from __future__ import annotations

import platform
import sys
import traceback

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Slot, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QComboBox, QDockWidget, QFileDialog, QLabel, QMainWindow,
                               QMessageBox, QWidget)

from .. import __version__
from ..core.config import DataConfig
from ..app.settings import read_bytes, read_recent, write_recent
from ..workers.data_loader import DataLoader
from ..workers.tasks import TaskHub
from .training.runs_list import default_runs_dir, save_run_dialog, suggest_name
from .training.panel import TrainingPanel
from .training.settings_form import fill_device_combo
from .widgets.undo import new_undo_stack

MAX_RECENT = 8
PANEL_MODULES = ("vae_studio.app.workspace", "vae_studio.ui.latent.panel", "vae_studio.ui.sampling.panel",
                 "vae_studio.ui.metrics.panel")
# key -> (dock title, class in vae_studio.ui.<key>.panel, what the user calls it)
SESSION_PANELS = {"latent": ("Latent explorer", "LatentPanel", "latent explorer"),
                  "sampling": ("Sampling and interpolation", "SamplingPanel", "sampling panel"),
                  "metrics": ("Metrics", "MetricsPanel", "metrics panel")}
SETTINGS_GEOMETRY, SETTINGS_STATE, SETTINGS_RECENT = "window/geometry", "window/state", "runs/recent"
SETTINGS_DEMO_SHOWN = "runs/demoShown"


def configure_pyqtgraph(app: QApplication | None = None) -> None:
    """pyqtgraph ignores the Qt palette: give it the palette's colours, row-major images, no antialiasing."""
    app = app or QApplication.instance()
    opts = {"imageAxisOrder": "row-major", "antialias": False, "useOpenGL": False}
    if app is not None:
        pal = app.palette()
        opts["background"] = pal.color(pal.ColorRole.Base)
        opts["foreground"] = pal.color(pal.ColorRole.Text)
    pg.setConfigOptions(**opts)


def same_data(a: DataConfig | None, b: DataConfig | None) -> bool:
    """Whether two data configurations give the same images (settings that do not apply are ignored)."""
    if a is None or b is None:
        return False

    def key(c):
        folder = c.dataset == "folder"
        root = c.root if c.dataset in ("folder", "npz") else None
        return (c.dataset, root, c.binarize, c.seed, c.image_size if folder else None, c.grayscale if folder else None)

    return key(a) == key(b)


class MainWindow(QMainWindow):
    def __init__(self, workspace=None, load_default_data: bool = True, parent=None):
        super().__init__(parent)
        configure_pyqtgraph()
        self.setObjectName("mainWindow")
        self.setWindowTitle("VAE Studio")
        self.workspace = None
        self.versions: dict = {}
        self._pending_runs: dict[int, object] = {}  # data request id -> run waiting for its data set
        self.tasks = TaskHub(self)  # every background runner (data, panels); shut down together on close
        # the panels' modules import torchvision (seconds): import them in the background too
        self.loader = DataLoader(self, preload=PANEL_MODULES, tasks=self.tasks)
        self.loader.coreReady.connect(self._on_core_ready)
        self.loader.failed.connect(self._on_core_failed)
        self.training = TrainingPanel(None, self.loader)
        self.training.stateChanged.connect(self._on_state)
        self.training.dataLoaded.connect(self._on_data_loaded)
        self.training.dataFailed.connect(self._on_data_failed)
        self.training.runSaved.connect(self._on_run_saved)
        self.training.device.currentIndexChanged.connect(self._update_status)
        self.panels: dict[str, QWidget] = {}  # the built workspace panels by key (see SESSION_PANELS)
        self.undo_stack = new_undo_stack(self)  # Edit ▸ Undo / Redo: removed and renamed runs
        self.setAcceptDrops(True)  # a run folder dropped on the window opens

        self.docks: dict[str, QDockWidget] = {}
        self._add_dock("training", "Training", self.training, Qt.DockWidgetArea.LeftDockWidgetArea)
        for key, (title, _cls, what) in SESSION_PANELS.items():
            self._add_dock(key, title, _placeholder(f"The {what} appears once PyTorch is loaded…"),
                           Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["latent"], self.docks["sampling"])
        self.tabifyDockWidget(self.docks["sampling"], self.docks["metrics"])
        self.docks["latent"].raise_()
        self.setDockNestingEnabled(True)
        self._build_actions()
        self._build_status()
        self._fit_to_screen()
        self._default_state = self.saveState()
        self._restore_settings()

        # first launch (no settings yet): the demo run opens once the built-in sprites are loaded
        self._open_demo = workspace is None and not QSettings().value(SETTINGS_DEMO_SHOWN, False, type=bool)
        if workspace is not None:
            self.loader.core_ready = True
            self.attach(workspace)
        if load_default_data and (workspace is None or workspace.data is None):
            self.training.load_data(DataConfig())
        elif workspace is None:
            self.loader.preload()
        self._update_status()

    # ------------------------------------------------------------------------------------------ build
    def _add_dock(self, key: str, title: str, widget: QWidget, area) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{key}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    def _action(self, menu, text, slot, shortcut=None, tip="") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        K = QKeySequence.StandardKey
        self.new_action = self._action(f, "&New run", self.new_run, K.New, "Default settings for a new run")
        self.open_action = self._action(f, "&Open run folder…", self.open_run_dialog, K.Open,
                                        "Open a run saved by VAE Studio")
        self.save_action = self._action(f, "&Save run", self.save_run, K.Save,
                                        "Save the current run into its own folder (or choose one)")
        self.save_as_action = self._action(f, "Save run &as…", self.save_run_as, QKeySequence("Ctrl+Shift+S"),
                                           "Save the current run as a new run folder")
        self.export_action = self._action(f, "&Export curves as PNG…", self.export_curves, QKeySequence("Ctrl+E"),
                                          "Save the loss curves shown as a PNG image")
        self.recent_menu = f.addMenu("Recent runs")
        f.addSeparator()
        self._action(f, "&Quit", self.close, K.Quit, "Close VAE Studio (a running run is stopped)")
        e = mb.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(K.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(K.Redo)])
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        t = mb.addMenu("&Training")
        tp = self.training
        self.start_action = self._action(t, "&Start", tp.start, QKeySequence("Ctrl+Return"),
                                         "Train a new run with the settings shown")
        self.pause_action = self._action(t, "&Pause / Resume", tp.toggle_pause, QKeySequence("Ctrl+P"),
                                         "Pause the running run, or resume it")
        self.stop_action = self._action(t, "S&top", tp.stop, QKeySequence("Ctrl+."),
                                        "Stop training; the run keeps what it has learnt")
        self.retrain_action = self._action(t, "&Retrain", tp.retrain, QKeySequence("Ctrl+R"),
                                           "A new run with the current settings (e.g. after changing beta)")
        v = mb.addMenu("&View")
        self._action(v, "&Reset layout", self.reset_layout, QKeySequence("Ctrl+Shift+R"),
                     "Put every panel back where it was at first start")
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        h = mb.addMenu("&Help")
        self.help_action = self._action(h, "VAE Studio &Help", self.show_help, K.HelpContents,
                                        "What each panel shows, the objective, where runs are kept")
        self._action(h, "&About VAE Studio", self.about, None, "Versions and devices")
        self._rebuild_recent()

        tb = self.addToolBar("Decoding")
        tb.setObjectName("decodeToolbar")
        tb.addWidget(QLabel(" Decode on: "))
        self.decode_combo = QComboBox()
        self.decode_combo.setObjectName("decodeDevice")
        self.decode_combo.addItem("CPU", "cpu")
        self.decode_combo.setToolTip("Where the latent explorer and sampling decode images (independent of "
                                     "the training device)")
        self.decode_combo.setEnabled(False)
        self.decode_combo.activated.connect(self._on_decode_chosen)
        tb.addWidget(self.decode_combo)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key, tip in (("data", "The data set in use"), ("model", "The current run's model"),
                         ("train", "Where models train"), ("decode", "Where images are decoded for display"),
                         ("state", "What training is doing")):
            label = QLabel()
            label.setToolTip(tip)
            sb.addPermanentWidget(label)
            self.status_labels[key] = label
        self.status_labels["state"].setText("State: starting…")

    # ------------------------------------------------------------------------------------------ workspace
    @Slot(object)
    def _on_core_ready(self, versions) -> None:
        self.versions = dict(versions)
        if self.workspace is not None:
            return
        from ..app.workspace import Workspace, torch_threads_for_gui

        torch_threads_for_gui()
        self.attach(Workspace(self))

    @Slot(int, object, str)
    def _on_core_failed(self, _request, config, message) -> None:
        if config is None and self.workspace is None:
            QMessageBox.critical(self, "VAE Studio", f"PyTorch could not be loaded: {message}")

    def attach(self, workspace) -> None:
        """Give the window its workspace: build the panels that need it, fill the device lists."""
        self.workspace = workspace
        import torch

        self.versions.setdefault("torch", torch.__version__)
        from ..app.training_controller import TrainingController

        self.trainer = TrainingController(workspace, self)
        self.training.attach(workspace, self.trainer, self.undo_stack)
        for key, (_title, cls_name, what) in SESSION_PANELS.items():
            panel = self._make_panel(key, cls_name, what)
            if panel is not None:
                self.panels[key] = panel
        from ..core.devices import list_devices

        fill_device_combo(self.decode_combo, list_devices(), workspace.decode_device)
        self.decode_combo.setEnabled(True)
        workspace.dataChanged.connect(self._update_status)
        workspace.selectedRunChanged.connect(self._update_status)
        workspace.runUpdated.connect(self._update_status)
        workspace.decodeDeviceChanged.connect(self._on_decode_changed)
        workspace.statusMessage.connect(self._show_message)
        self._update_status()

    @property
    def latent_panel(self):
        return self.panels.get("latent")

    @property
    def sampling_panel(self):
        return self.panels.get("sampling")

    @property
    def metrics_panel(self):
        return self.panels.get("metrics")

    def _make_panel(self, key: str, cls_name: str, what: str):
        """Build the panel class ``cls_name`` of ``vae_studio.ui.<key>.panel``; a panel that fails to build shows why instead."""
        try:
            module = __import__(f"vae_studio.ui.{key}.panel", fromlist=[cls_name])
            panel = getattr(module, cls_name)(self.workspace, tasks=self.tasks)
        except Exception as e:  # noqa: BLE001 - one broken panel must not take the window down
            traceback.print_exc()
            panel = _placeholder(f"The {what} could not be started: {e}")
            self.docks[key].setWidget(panel)
            return None
        self.docks[key].setWidget(panel)
        return panel

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

    def open_run_folder(self, path: str, remember: bool = True):
        """Load a run folder; load its data set in the background if it differs; then add it to the workspace.

        Returns the run's entry when it was added at once. Every failure is a message (the window stays as
        it was), never an exception."""
        if self.workspace is None:
            QMessageBox.information(self, "Open run folder", "PyTorch is still loading; try again in a moment.")
            return
        from ..core.checkpoint import CheckpointError, load_run

        try:
            run = load_run(path)
        except CheckpointError as e:
            QMessageBox.warning(self, "Open run folder", str(e))
            return
        except OSError as e:
            QMessageBox.warning(self, "Open run folder", f"Could not read {path}: {e.strerror or e}")
            return
        except Exception as e:  # noqa: BLE001 - out of memory, a bug: a message, never a dead window
            text = str(e).strip().splitlines()
            QMessageBox.warning(self, "Open run folder", f"Could not open {path}: "
                                f"{text[0] if text else type(e).__name__}")
            return
        if remember:
            self._add_recent(str(run.folder))
        self.training.set_config(run.config)
        if same_data(run.config.data, self.training.data_config) and self.workspace.data is not None:
            entry = self.workspace.add_run(run)
            self._show_message(f"Opened {run.name} from {run.folder}")
            return entry
        request = self.training.load_data(run.config.data)
        if request is None:
            QMessageBox.warning(self, "Open run folder", f"Cannot load the data set of {run.name}.")
            return
        self._pending_runs[request] = run
        self._show_message(f"Loading {run.config.data.dataset} for {run.name}…")

    def open_demo_run(self) -> None:
        """The small model shipped with VAE Studio (trained on the built-in sprites), to explore at once."""
        from ..resource_paths import demo_run_path

        QSettings().setValue(SETTINGS_DEMO_SHOWN, True)
        entry = self.open_run_folder(str(demo_run_path()), remember=False)
        if entry is not None:
            entry.run.folder = None  # not the user's folder: Save asks where, nothing overwrites the package
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

    def show_help(self) -> None:
        from .help_page import HelpDialog

        HelpDialog(default_runs_dir(), self).exec()

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

    def export_curves(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the loss curves", "loss-curves.png", "PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.training.plot.export_png(path)
        except Exception as e:  # noqa: BLE001 - disk full, permissions: a message, not a traceback
            QMessageBox.warning(self, "Export curves", f"Could not write {path}: {e}")
            return
        self._show_message(f"Curves saved to {path}")

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
            a.triggered.connect(self._open_recent)
        if not items:
            a = self.recent_menu.addAction("(no recent runs)")
            a.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self._clear_recent)

    @Slot()
    def _open_recent(self) -> None:
        action = self.sender()
        if action is not None:
            self.open_run_folder(action.data())

    @Slot()
    def _clear_recent(self) -> None:
        write_recent(SETTINGS_RECENT, [])
        self._rebuild_recent()

    # ------------------------------------------------------------------------------------------ devices
    @Slot(int)
    def _on_decode_chosen(self, index: int) -> None:
        name = self.decode_combo.itemData(index)
        from ..core.devices import DeviceError

        try:
            self.workspace.set_decode_device(name)
        except DeviceError as e:
            QMessageBox.warning(self, "Decode device", str(e))
            fill_device_combo(self.decode_combo, _devices(), self.workspace.decode_device)
        self._update_status()

    @Slot(str)
    def _on_decode_changed(self, name: str) -> None:
        i = self.decode_combo.findData(name)
        if i >= 0 and i != self.decode_combo.currentIndex():
            self.decode_combo.setCurrentIndex(i)
        self._update_status()

    # ------------------------------------------------------------------------------------------ status
    @Slot(str)
    def _on_state(self, state: str) -> None:
        self._update_status()

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    @Slot()
    def _update_status(self, *_):
        s = self.workspace
        data = s.data if s is not None else None
        if self.training.data_loading:
            cfg = self.training.chosen_data_config()
            data_text = f"Data: loading {cfg.dataset if cfg is not None else 'data'}…"
        elif data is not None:
            data_text = (f"Data: {data.name} · {len(data.train_x):,} train / {len(data.test_x):,} test · "
                         f"{data.image_size}×{data.image_size}")
        else:
            data_text = "Data: none"
        run = s.selected if s is not None else None
        if run is not None:
            m, t = run.config.model, run.config.train
            model_text = f"Model: {run.name} · {m.kind.upper()} {m.arch.upper()} z={m.latent_dim} β={t.beta:g}"
        else:
            model_text = "Model: none yet"
        labels = self.status_labels
        labels["data"].setText(data_text)
        labels["model"].setText(model_text)
        labels["train"].setText(f"Training on: {self.training.device.currentText()}")
        decode = s.decode_device if s is not None else "cpu"
        labels["decode"].setText(f"Decoding on: {decode}")
        labels["state"].setText(f"State: {self.training.state}")

    # ------------------------------------------------------------------------------------------ help
    def about(self) -> None:
        import PySide6

        torch = sys.modules.get("torch")
        torch_text = torch.__version__ if torch is not None else "loading…"
        gpu = ""
        if torch is not None and torch.cuda.is_available():
            gpu = f"<br>CUDA: {torch.version.cuda}, {torch.cuda.get_device_name(0)}"
        decode = self.workspace.decode_device if self.workspace is not None else "cpu"
        QMessageBox.about(self, "About VAE Studio", (
            f"<h3>VAE Studio {__version__}</h3>"
            "<p>Train variational autoencoders and see what they learn.</p>"
            f"<p>PyTorch {torch_text}{gpu}<br>Qt {qVersion()} (PySide6 {PySide6.__version__})<br>"
            f"pyqtgraph {pg.__version__}<br>Python {platform.python_version()}</p>"
            f"<p>Training device: {self.training.device.currentText()}<br>Decode device: {decode}</p>"))

    # ------------------------------------------------------------------------------------------ layout
    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.show()
        self.resizeDocks([self.docks["training"], self.docks["latent"]],
                         [self.width() // 2, self.width() // 2], Qt.Orientation.Horizontal)

    def _restore_settings(self) -> None:
        """Geometry and dock layout from the last session; a value of the wrong type or size is ignored."""
        geometry = read_bytes(SETTINGS_GEOMETRY)
        if geometry is not None and not self.restoreGeometry(geometry):
            self._fit_to_screen()
        state = read_bytes(SETTINGS_STATE)
        if state is not None and not self.restoreState(state):
            self.restoreState(self._default_state)

    def _fit_to_screen(self) -> None:
        """First size: 90% of the screen's free area (never larger), the docks split evenly."""
        screen = self.screen() or QApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        w, h = 1600, 1000
        if avail is not None and avail.width() > 0:
            w, h = min(w, int(avail.width() * 0.9)), min(h, int(avail.height() * 0.9))
        self.resize(max(w, self.minimumSizeHint().width()), h)
        self.resizeDocks([self.docks["training"], self.docks["latent"]], [w // 2, w // 2],
                         Qt.Orientation.Horizontal)

    # ------------------------------------------------------------------------------------------ closing
    ask_about_unsaved = True  # tests that do not test the question turn it off (a modal box would wait)

    def unsaved_runs(self) -> list:
        """Runs with trained weights that exist only in memory (never saved, not opened from a folder)."""
        runs = self.workspace.runs if self.workspace is not None else []
        return [r for r in runs if r.folder is None and (r.history.epochs or r.history.steps)]

    def _confirm_close(self) -> bool:
        """Ask what to do with unsaved runs: save them all into one folder, discard them, or keep the window."""
        runs = self.unsaved_runs()
        if not runs or not self.ask_about_unsaved:
            return True
        names = ", ".join(r.name for r in runs[:6]) + (", …" if len(runs) > 6 else "")
        box = QMessageBox(QMessageBox.Icon.Warning, "Close VAE Studio",
                          f"{len(runs)} run{'s are' if len(runs) > 1 else ' is'} not saved ({names}). "
                          "Their weights and curves are lost when VAE Studio closes.",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.button(QMessageBox.StandardButton.Save).setText("Save all…")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if answer != QMessageBox.StandardButton.Save:
            return False
        parent = QFileDialog.getExistingDirectory(self, "Save the unsaved runs into", default_runs_dir())
        if not parent:
            return False
        self.training.shutdown()  # a run still training stops and keeps its weights, then is saved too
        return self.save_runs_into(runs, parent)

    def save_runs_into(self, runs, parent: str) -> bool:
        """Save each run as its own folder (named from its settings) inside ``parent``; False if one failed."""
        from pathlib import Path

        from ..core.checkpoint import save_run

        for run in runs:
            base = Path(parent) / suggest_name(run)
            folder, k = base, 2
            while folder.exists():
                folder, k = base.with_name(f"{base.name}-{k}"), k + 1
            try:
                save_run(run, folder)
            except OSError as e:
                QMessageBox.warning(self, "Save runs", f"Could not save {run.name} to {folder}: {e.strerror or e}")
                return False
            self._add_recent(str(folder))
        QSettings().setValue("runs/lastDir", str(parent))
        return True

    def closeEvent(self, event) -> None:
        if not self._confirm_close():
            event.ignore()
            return
        s = QSettings()
        s.setValue(SETTINGS_GEOMETRY, self.saveGeometry())
        s.setValue(SETTINGS_STATE, self.saveState())
        write_recent(SETTINGS_RECENT, self.recent_runs())  # rewritten clean
        self.training.shutdown()  # stops a running run; it keeps the weights it has
        self.tasks.shutdown_all()  # every background thread (data, panels): stop flag, quit, wait
        super().closeEvent(event)


def _dropped_folders(mime) -> list[str]:
    """Local folders (or files inside run folders) among the dropped URLs."""
    if not mime.hasUrls():
        return []
    from pathlib import Path

    paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    return [str(p if p.is_dir() else p.parent) for p in paths if p.is_dir() or p.is_file()]


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: gray")
    return label


def _devices():
    from ..core.devices import list_devices

    return list_devices()
