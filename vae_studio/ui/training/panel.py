"""The training panel: every setting of a run, Start / Pause / Stop / Retrain, live curves and the runs list.

A view of two controllers in ``app/``: the :class:`~vae_studio.app.training_controller.TrainingController`
(the runs' threads, their progress and state) and the :class:`~vae_studio.app.data_controller.DataController`
(which data set the workspace holds). It composes the settings form, the data picker, the loss plot and the
runs list, and turns their user actions into controller and workspace calls. It can be built before torch is
imported (the window shows at once); :meth:`TrainingPanel.attach` gives it the workspace later.

Wiring only (no training, loading or config logic lives here); the widgets it composes are their own modules
(the left column and its buttons: ``settings_column.py``). A little over 400 lines: one handler per user action
and per workspace event, each a few lines.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QSplitter, QVBoxLayout, QWidget

from ...app.data_controller import DataController
from ...app.states import TrainingState
from ...core.config import ConfigError, DataConfig, RunConfig
from ..widgets.undo import RemoveRunsCommand, RenameRunCommand, new_undo_stack
from .data_picker import DataPicker
from .loss_plot import LossPlot
from .settings_column import RunButtons, SettingsColumn
from .runs_list import RunsList
from .settings_form import SettingsForm, fill_device_combo

SETTINGS_WIDTH = 340  # the settings column's width at first (it can shrink to its minimum; plots get the rest)


class TrainingPanel(QWidget):
    stateChanged = Signal(str)  # idle, loading …, training epoch k/N, paused, stopped, diverged, failed
    dataLoaded = Signal(int)  # request id of load_data(): the workspace holds that data set now
    dataFailed = Signal(int, str)  # request id, message
    runSaved = Signal(object, object)  # Run, folder
    stepsReceived = Signal(object, int)  # Run, its last step: new losses reached the plot
    runFinished = Signal(object, str)  # Run (None if it failed before it had one), final status

    def __init__(self, workspace=None, loader=None, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.workspace = None
        self.data = DataController(loader, self)  # which data set the workspace holds, and loading it
        self.controller = None  # the TrainingController, from attach()
        self.undo_stack = new_undo_stack(self)  # the main window gives its own (Edit ▸ Undo) in attach()
        self._started_at = 0.0
        self.state = "idle"
        self._build()
        self.data.changed.connect(self._on_data_state)
        self.data.loaded.connect(self.dataLoaded)
        self.data.failed.connect(self.dataFailed)
        if workspace is not None:
            self.attach(workspace)
        self._update_controls()

    # ------------------------------------------------------------------------------------------ build
    def _build(self) -> None:
        self.picker = DataPicker()
        self.picker.requested.connect(self._request_data)
        self.picker.searchRootChosen.connect(self._fill_datasets)
        self.picker.clamped.connect(self._on_value_clamped)
        self.form = SettingsForm()
        self.form.changed.connect(self._update_controls)
        self.form.clamped.connect(self._on_value_clamped)
        self.form.apply_live.clicked.connect(self.apply_to_running_run)
        self._requested: tuple[float, float] | None = None  # (beta, lr) asked of the running run, not yet applied
        # the controls, by the names the user knows them by (tests and the main window use them)
        for name in ("dataset", "find_data", "path", "browse", "binarize", "folder_size", "folder_gray"):
            setattr(self, name, getattr(self.picker, name))
        for name in ("kind", "model_note", "conditional", "variant_settings", "arch", "latent", "hidden", "beta",
                     "beta_slider", "gamma", "recon", "warmup", "next_run_note", "apply_live", "lr", "batch", "epochs",
                     "seed", "grad_clip", "device"):
            setattr(self, name, getattr(self.form, name))

        self.buttons = RunButtons()
        for name in ("validation", "start_button", "pause_button", "stop_button", "retrain_button", "progress",
                     "message"):
            setattr(self, name, getattr(self.buttons, name))
        for button, slot in ((self.start_button, self.start), (self.pause_button, self.toggle_pause),
                             (self.stop_button, self.stop), (self.retrain_button, self.retrain)):
            button.clicked.connect(slot)

        left = SettingsColumn([self.picker, self.form], self.buttons)
        self._settings_scroll = left.scroll

        self.plot = LossPlot()
        self.runs = RunsList()
        self.runs.shownRunsChanged.connect(self._on_shown_runs)
        self.runs.currentRunChanged.connect(self._on_current_row)
        self.runs.saved.connect(self.runSaved)
        self.runs.remove_requested = self._remove_runs
        self.runs.renameRequested.connect(self._rename_run)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.runs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)  # the settings keep their width; the plots take what the dock gains
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([max(SETTINGS_WIDTH, left.minimumSizeHint().width()), 10 * SETTINGS_WIDTH])
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

    # ------------------------------------------------------------------------------------------ workspace
    def attach(self, workspace, controller=None, undo_stack=None) -> None:
        """Connect to the workspace (after torch is imported): fill the device and data set lists.

        ``controller``: the workspace's TrainingController (the panel makes one if none is given)."""
        if self.workspace is workspace:
            return
        self.workspace = workspace
        if undo_stack is not None:
            self.undo_stack = undo_stack
        from ...app.training_controller import TrainingController

        self.controller = c = controller or TrainingController(workspace, self)
        c.stepsReceived.connect(self._on_steps)
        c.progressed.connect(self._on_progress)
        c.epochEnded.connect(self._on_epoch)
        c.hyperparametersChanged.connect(self._on_hyperparameters)
        c.stateChanged.connect(self._on_training_state)
        c.message.connect(self._show_message)
        c.runFinished.connect(self._on_run_finished)
        from ...core.devices import list_devices

        fill_device_combo(self.device, list_devices(), self.device.currentData())
        self._fill_datasets()
        workspace.runAdded.connect(self._on_run_added)
        workspace.runRemoved.connect(self._on_run_removed)
        workspace.runUpdated.connect(self._on_run_updated)
        workspace.runStatusChanged.connect(self._on_run_updated)
        workspace.runRenamed.connect(self._on_run_updated)
        workspace.selectedRunChanged.connect(self._on_selected)
        for run in workspace.runs:
            self._on_run_added(run)
        self.data.attach(workspace)
        self._update_controls()

    def _fill_datasets(self, *_) -> None:
        if self.workspace is None:
            return
        from ...core.data import list_datasets

        self.picker.fill(list_datasets(self.picker.search_root))
        self._update_controls()

    # ------------------------------------------------------------------------------------------ data
    def load_data(self, cfg: DataConfig) -> int | None:
        """Load ``cfg`` in the background and make it the workspace's data set; returns the request id."""
        self.picker.show_config(cfg)
        request = self.data.load(cfg)
        self._update_controls()
        return request

    @property
    def data_config(self) -> DataConfig | None:
        """How the workspace's data set was loaded (None before one is)."""
        return self.data.config

    @property
    def data_loading(self) -> bool:
        """Whether a data set the user chose is being loaded."""
        return self.data.loading

    def chosen_data_config(self) -> DataConfig | None:
        """The data set the controls describe."""
        return self.picker.chosen_config(self.data.config)

    @Slot()
    def _request_data(self) -> None:
        cfg = self.chosen_data_config()
        if cfg is not None and not (cfg.dataset in ("folder", "npz") and not cfg.root) and self.data.wants(cfg):
            self.load_data(cfg)
        self._update_controls()

    @Slot()
    def _on_data_state(self) -> None:
        data = self.workspace.data if self.workspace is not None else None
        if data is not None and self.data.config is not None and self.data.config.dataset == data.name \
                and self.picker.dataset.findData(data.name) < 0:
            self.picker.show_in_memory(data.name)  # a data set a program put in (tests, scripts)
        if self.data.loading:
            cfg = self.data.loading_config
            self._set_state(f"loading {cfg.dataset if cfg is not None else 'data'}…")
        elif self.state.startswith("loading"):
            self._set_state("idle")
        self._update_controls()

    # ------------------------------------------------------------------------------------------ config
    def current_config(self) -> RunConfig:
        """A RunConfig from the controls (not validated; model shape from the current data set)."""
        data = self.data_config or self.chosen_data_config() or DataConfig()
        model = self.form.model_config()
        d = self.workspace.data if self.workspace is not None else None
        if d is not None:
            model.image_size, model.channels, model.num_classes = d.image_size, d.channels, d.num_classes
        return RunConfig(data=DataConfig(**vars(data)), model=model, train=self.form.train_config())

    def set_config(self, cfg: RunConfig) -> None:
        """Show a run's settings in the controls (its data set is not reloaded)."""
        self.form.set_config(cfg)

    def reset_settings(self) -> None:
        """Default settings for a new run (the data set stays)."""
        self.form.reset()

    def problem(self) -> str:
        """Why Start is disabled ('' when it is not)."""
        if self.workspace is None:
            return "Loading PyTorch…"
        if self.data.loading:
            name = self.dataset.currentText() or "the data set"
            return f"Loading {name.split(' (')[0]}…"
        if self.data.error:
            return self.data.error
        if self.workspace.data is None:
            cfg = self.chosen_data_config()
            if cfg is not None and cfg.dataset in ("folder", "npz") and not cfg.root:
                return "Choose a folder or .npz file for this data set (Browse…)."
            return "No data set loaded yet."
        try:
            self.current_config().validate()
        except ConfigError as e:
            return str(e)[:1].upper() + str(e)[1:] + "."
        return ""

    # ------------------------------------------------------------------------------------------ training
    @property
    def training(self) -> bool:
        return self.controller is not None and self.controller.training

    def start(self) -> None:
        if not self.training:
            self._launch(self.controller.start if self.controller is not None else None)

    def retrain(self) -> None:
        self._launch(self.controller.retrain if self.controller is not None else None)

    def toggle_pause(self) -> None:
        if self.controller is not None:
            self.controller.toggle_pause()
            self._update_controls()

    def stop(self) -> None:
        if self.controller is not None and self.controller.training:
            self.controller.stop()
            self._update_controls()

    def live_changes(self) -> dict[str, float]:
        """The β and learning rate of the controls that differ from what the running run trains with (or has
        been asked to): what Apply to running run would change."""
        c = self.controller
        entry = c.active_run if c is not None and c.training and not c.stop_requested else None
        if entry is None:
            return {}
        beta, lr = self._requested or c.hyperparameters(entry)
        wanted = {"beta": self.beta.value(), "lr": self.lr.value()}
        return {k: v for k, v in wanted.items() if v != {"beta": beta, "lr": lr}[k]}

    def apply_to_running_run(self) -> None:
        """Train the running run with the β and learning rate shown, from its next step."""
        values = self.live_changes()
        if not values:
            return
        try:
            asked = self.controller.set_hyperparameters(**values)
        except ConfigError as e:
            QMessageBox.warning(self, "Apply to running run", str(e)[:1].upper() + str(e)[1:] + ".")
            return
        if asked:
            beta, lr = self._requested or self.controller.hyperparameters(self.controller.active_run)
            self._requested = (values.get("beta", beta), values.get("lr", lr))
            self._show_message("Applying to the running run from its next step…")
        self._update_controls()

    @Slot(object, object)
    def _on_hyperparameters(self, entry, change) -> None:
        if self._requested == (change["beta"], change["lr"]):
            self._requested = None
        self.plot.update_changes(entry)
        self._update_controls()

    def _launch(self, command) -> None:
        why = self.problem()
        if why or command is None:
            self.validation.setText(why)
            return
        config = self.current_config()
        self._requested = None
        self.buttons.starting(config.train.epochs)
        if command(config):
            self._started_at = time.perf_counter()
        self._update_controls()

    @Slot(object, object)
    def _on_steps(self, entry, rows) -> None:
        self.plot.append(entry, rows)
        self.stepsReceived.emit(entry, int(rows[-1, 0]))

    @Slot(object)
    def _on_progress(self, p) -> None:
        entry = self.controller.active_run
        if entry is not None:
            self.plot.set_planned_steps(entry, p.total_steps)
        self.buttons.show_progress(p)
        if self.controller.state == TrainingState.TRAINING:
            self._set_state(f"training epoch {p.epoch}/{p.epochs}")

    @Slot(object, object)
    def _on_epoch(self, entry, record) -> None:
        self.plot.add_epoch(entry, record)

    @Slot(object)
    def _on_training_state(self, state) -> None:
        if state == TrainingState.IDLE:
            outcome = self.controller.last_outcome
            self._set_state({"finished": "idle"}.get(outcome, outcome or "idle"))
            self.progress.setFormat(outcome or "idle")
        elif state == TrainingState.TRAINING:
            self._set_state("training")
        else:
            self._set_state(state.value + ("…" if state in (TrainingState.STARTING, TrainingState.PAUSING,
                                                             TrainingState.STOPPING) else ""))
        self._update_controls()

    @Slot(object, str)
    def _on_run_finished(self, entry, status) -> None:
        self.runFinished.emit(entry, status)

    def shutdown(self) -> None:
        """Stop every run and wait for the threads (for closing the window); each run keeps its weights."""
        if self.controller is not None:
            self.controller.shutdown()
        self.plot.stop_timer()

    # ------------------------------------------------------------------------------------------ runs
    @Slot(object)
    def _on_run_added(self, run) -> None:
        self.plot.add_run(run, run.colour)
        self.runs.add_run(run, run.colour)
        self._update_controls()  # Retrain is enabled once there is a run (opened ones too)

    @Slot(object)
    def _on_run_removed(self, run) -> None:
        self.plot.remove_run(run)
        self.runs.remove_run(run)
        self._update_controls()

    @Slot(object)
    def _on_run_updated(self, run) -> None:
        self.runs.update_run(run)

    @Slot(object)
    def _on_selected(self, run) -> None:
        self.runs.set_current(run)
        self.plot.set_current(run)

    def _on_shown_runs(self, runs) -> None:
        self.plot.set_shown_runs(runs)

    def _on_current_row(self, run) -> None:
        if self.workspace is not None and run is not None:
            self.workspace.select_run(run)

    def _remove_runs(self, runs) -> None:
        busy = [r for r in runs if self.controller is not None and self.controller.is_training(r)]
        if busy:
            QMessageBox.information(self, "Remove runs", "Stop the running run before removing it.")
            return
        self.undo_stack.push(RemoveRunsCommand(self.workspace, runs))  # Edit ▸ Undo brings them back

    def _rename_run(self, run, name: str) -> None:
        if name.strip() and name.strip() != run.name:
            self.undo_stack.push(RenameRunCommand(self.workspace, run, name.strip()))

    # ------------------------------------------------------------------------------------------ view
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    @Slot(str)
    def _on_value_clamped(self, text: str) -> None:
        self._show_message(text, error=True)  # a typed value was out of range: say what was used instead

    @Slot(str, bool)
    def _show_message(self, text: str, error: bool = False) -> None:
        self.buttons.show_message(text, error)
        if self.workspace is not None:
            self.workspace.show_message(text)

    @Slot()
    def _update_controls(self, *_):
        c = self.controller
        training = c is not None and c.training
        stoppable = training and not c.stop_requested
        self.buttons.show_buttons(self.problem(), training, stoppable, training and c.paused_by_user,
                                  bool(self.workspace and self.workspace.runs))
        if not stoppable:
            self._requested = None
        self.form.set_training(stoppable)
        self.apply_live.setEnabled(bool(self.live_changes()))
        self.picker.set_busy(self.data.loading or self.workspace is None)
        data = self.workspace.data if self.workspace is not None else None
        self.form.set_labels_available(data is None or data.num_classes >= 2)
