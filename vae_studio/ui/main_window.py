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
from functools import partial

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Slot, qVersion
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QMessageBox, QWidget

from .. import __version__
from ..core.config import DataConfig
from ..app.event_loop import next_turn
from ..app.settings import read_bytes, write_recent
from ..workers.data_loader import DataLoader
from ..workers.tasks import TaskHub
from .gui_collector import hold_collection
from .menus import MenusMixin
from .run_files import SETTINGS_DEMO_SHOWN, SETTINGS_RECENT, RunFilesMixin
from .training.runs_list import default_runs_dir
from .training.panel import TrainingPanel
from .training.settings_form import fill_device_combo
from .widgets.file_dialogs import ask_save_path
from .widgets.undo import new_undo_stack
from .widgets.variant_names import model_title

PANEL_MODULES = ("vae_studio.app.workspace", "vae_studio.app.training_controller", "vae_studio.ui.latent.panel",
                 "vae_studio.ui.sampling.panel", "vae_studio.ui.metrics.panel")
# key -> (dock title, class in vae_studio.ui.<key>.panel, what the user calls it)
SESSION_PANELS = {"latent": ("Latent explorer", "LatentPanel", "latent explorer"),
                  "sampling": ("Sampling and interpolation", "SamplingPanel", "sampling panel"),
                  "metrics": ("Metrics", "MetricsPanel", "metrics panel")}
SETTINGS_GEOMETRY, SETTINGS_STATE = "window/geometry", "window/state"


def configure_pyqtgraph(app: QApplication | None = None) -> None:
    """pyqtgraph ignores the Qt palette: give it the palette's colours, row-major images, no antialiasing."""
    app = app or QApplication.instance()
    opts = {"imageAxisOrder": "row-major", "antialias": False, "useOpenGL": False}
    if app is not None:
        pal = app.palette()
        opts["background"] = pal.color(pal.ColorRole.Base)
        opts["foreground"] = pal.color(pal.ColorRole.Text)
    pg.setConfigOptions(**opts)


class MainWindow(MenusMixin, RunFilesMixin, QMainWindow):
    def __init__(self, workspace=None, load_default_data: bool = True, parent=None):
        super().__init__(parent)
        configure_pyqtgraph()
        self.setObjectName("mainWindow")
        self.setWindowTitle("VAE Studio")
        self.workspace = None
        self.versions: dict = {}
        self._pending_runs: dict[int, object] = {}  # data request id -> run waiting for its data set
        self._reading: dict[int, tuple] = {}  # run folders being read: ticket -> (path, remember, select, then)
        self.tasks = TaskHub(self)  # every background runner (data, panels); shut down together on close
        # the panels' modules import torch: import them in the background too
        self.loader = DataLoader(self, preload=PANEL_MODULES, tasks=self.tasks)
        self.loader.coreReady.connect(self._on_core_ready)
        self.loader.importing.connect(hold_collection)
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
        self._dock_on_screen: dict[str, bool] = {}  # from each dock's visibilityChanged (a tab behind: False)
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
        dock.visibilityChanged.connect(lambda on, k=key: self._on_dock_visibility(k, on))

    def _on_dock_visibility(self, key: str, on_screen: bool) -> None:
        """A dock came on screen or left it (its tab chosen or another, closed, the window minimised): a panel
        that holds its refreshes while out of sight (``when_shown``) is told."""
        self._dock_on_screen[key] = on_screen
        when_shown = getattr(self.panels.get(key), "when_shown", None)
        if when_shown is not None:
            when_shown.set_on_screen(on_screen)

    def _build_status(self) -> None:
        """The status bar: what data, model and devices are in use, and the training state. A message (what
        just happened, what to do next) covers all but the state while it shows: at 1366x768 the labels left it
        a third of the bar, and "drag the probe in the latent explorer" was cut off."""
        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key, tip in (("data", "The data set in use"), ("model", "The current run's model"),
                         ("train", "Where models train"), ("decode", "Where images are decoded for display"),
                         ("state", "What training is doing")):
            label = QLabel()
            label.setToolTip(tip)
            if key == "state":
                sb.addPermanentWidget(label)
            else:
                sb.addWidget(label)  # hidden while a message shows
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
        self.attach(Workspace(self), staged=True)

    @Slot(int, object, str)
    def _on_core_failed(self, _request, config, message) -> None:
        if config is None and self.workspace is None:
            QMessageBox.critical(self, "VAE Studio", f"PyTorch could not be loaded: {message}")

    def attach(self, workspace, staged: bool = False) -> None:
        """Give the window its workspace: build the panels that need it, fill the device lists.

        ``staged``: one panel per event-loop turn (at launch: building all three at once froze the window for
        a tenth of a second); each panel shows the workspace as it finds it."""
        self.workspace = workspace
        import torch

        self.versions.setdefault("torch", torch.__version__)
        from ..app.training_controller import TrainingController

        self.trainer = TrainingController(workspace, self)
        self.training.attach(workspace, self.trainer, self.undo_stack)
        if staged:
            next_turn(self, lambda: self._build_panels(list(SESSION_PANELS), staged=True))
        else:
            self._build_panels(list(SESSION_PANELS))
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

    def _build_panels(self, keys: list[str], staged: bool = False) -> None:
        """Build the workspace panels ``keys`` (in order; ``staged``: the first now, the rest in later turns)."""
        while keys:
            key = keys.pop(0)
            _title, cls_name, what = SESSION_PANELS[key]
            panel = self._make_panel(key, cls_name, what, staged)
            if panel is not None:
                self.panels[key] = panel
            if staged and keys:
                go_on = partial(next_turn, self, partial(self._build_panels, keys, True))
                if getattr(panel, "building", False):  # it builds over turns itself: the next one after it
                    panel.built.connect(go_on)
                else:
                    go_on()
                return

    def _make_panel(self, key: str, cls_name: str, what: str, staged: bool = False):
        """Build the panel class ``cls_name`` of ``vae_studio.ui.<key>.panel``; a panel that fails to build shows why instead.
        ``staged``: the latent explorer builds its second column one turn later (it is the largest panel)."""
        try:
            module = __import__(f"vae_studio.ui.{key}.panel", fromlist=[cls_name])
            extra = {"undo_stack": self.undo_stack,  # probe moves are undoable
                     "staged": staged} if key == "latent" else {}
            panel = getattr(module, cls_name)(self.workspace, tasks=self.tasks, **extra)
        except Exception as e:  # noqa: BLE001 - one broken panel must not take the window down
            traceback.print_exc()
            panel = _placeholder(f"The {what} could not be started: {e}")
            self.docks[key].setWidget(panel)
            return None
        self.docks[key].setWidget(panel)
        if (when_shown := getattr(panel, "when_shown", None)) is not None:
            when_shown.set_on_screen(self._dock_on_screen.get(key, True))
        return panel

    def compare_runs(self) -> None:
        """View ▸ Compare two runs: a window beside the main one (one at a time, raised when open)."""
        if self.workspace is None:
            QMessageBox.information(self, "Compare two runs", "PyTorch is still loading: try again in a moment.")
            return
        window = getattr(self, "compare_window", None)
        if window is None or not window.isVisible():
            from .latent.compare import CompareWindow

            self.compare_window = window = CompareWindow(self.workspace, self.tasks, self)
        window.show()
        window.raise_()

    def show_help(self) -> None:
        from .help_page import HelpDialog

        HelpDialog(default_runs_dir(), self).exec()

    def export_curves(self) -> None:
        path = ask_save_path(self, "Export the loss curves", "loss-curves.png", "PNG image (*.png)", ".png")
        if not path:
            return
        try:
            self.training.plot.export_png(path)
        except Exception as e:  # noqa: BLE001 - disk full, permissions: a message, not a traceback
            QMessageBox.warning(self, "Export curves", f"Could not write {path}: {e}")
            return
        self._show_message(f"Curves saved to {path}")

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
            model_text = f"Model: {run.name} · {model_title(m)} · {m.arch.upper()} z={m.latent_dim} β={t.beta:g}"
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


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: gray")
    return label


def _devices():
    from ..core.devices import list_devices

    return list_devices()
