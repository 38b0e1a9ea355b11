"""The training panel: every setting of a run, Start / Pause / Stop / Retrain, live curves and the runs list.

Training runs in a :class:`~vae_studio.workers.training_worker.TrainingJob` (a QThread); its signals come
back to slots here, and the runs it makes go into the workspace, so every panel sees them. The panel can be
built before torch is imported (the window shows at once) and :meth:`TrainingPanel.attach` gives it the
workspace later; nothing here imports torch at module level.
"""
from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QProgressBar, QPushButton,
                               QScrollArea, QSlider, QSplitter, QVBoxLayout, QWidget)

from ...core.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from ..widgets.compact import ElidedComboBox, hint_label
from ..widgets.spin_boxes import CheckedDoubleSpinBox, CheckedSpinBox
from ..widgets.undo import RemoveRunsCommand, RenameRunCommand, new_undo_stack
from ...app.states import TrainingState, format_seconds
from .loss_plot import LossPlot
from .runs_list import RunsList

BETA_MAX = 100.0
BETA_SLIDER = 1000  # slider positions: 0 is beta 0, 1..BETA_SLIDER cover 10^-3 .. 10^2 on a log scale
BETA_LOG_MIN, BETA_LOG_MAX = -3.0, 2.0
SPRITES_TITLE = "Sprites (built-in, 32x32, 46,080 images)"
SETTINGS_WIDTH = 340  # the settings column's width at first (it can shrink to its minimum; plots get the rest)


def beta_to_slider(beta: float) -> int:
    if beta <= 0:
        return 0
    t = (math.log10(max(beta, 10 ** BETA_LOG_MIN)) - BETA_LOG_MIN) / (BETA_LOG_MAX - BETA_LOG_MIN)
    return 1 + round(min(max(t, 0.0), 1.0) * (BETA_SLIDER - 1))


def slider_to_beta(pos: int) -> float:
    if pos <= 0:
        return 0.0
    t = (pos - 1) / (BETA_SLIDER - 1)
    beta = 10 ** (BETA_LOG_MIN + t * (BETA_LOG_MAX - BETA_LOG_MIN))
    return float(f"{beta:.2g}")  # two significant digits: the slider lands on 4, 0.5, 10 ...


def fill_device_combo(combo: QComboBox, devices, current: str | None = None) -> None:
    """CPU and every accelerator torch finds; absent ones disabled with their reason as tooltip."""
    combo.blockSignals(True)
    combo.clear()
    for d in devices:
        combo.addItem(d.label if d.available else f"{d.label} (not available)", d.name)
        i = combo.count() - 1
        if not d.available:
            combo.model().item(i).setEnabled(False)
            combo.setItemData(i, d.reason, Qt.ItemDataRole.ToolTipRole)
        else:
            combo.setItemData(i, f"{d.label}", Qt.ItemDataRole.ToolTipRole)
    i = combo.findData(current) if current else -1
    combo.setCurrentIndex(i if i >= 0 else 0)
    combo.blockSignals(False)


def _spin(lo, hi, value, tip, step=1, what="value") -> CheckedSpinBox:
    s = CheckedSpinBox(what)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setSingleStep(step)
    s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s


def _dspin(lo, hi, value, decimals, step, tip, what="value") -> CheckedDoubleSpinBox:
    s = CheckedDoubleSpinBox(what)
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    s.setSingleStep(step)
    s.setValue(value)
    s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s


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
        self.loader = loader
        self.data_config: DataConfig | None = None  # how workspace.data was loaded (None: not loaded here)
        self._data_request = None  # the load we wait for
        self._loaded_data_id = None
        self._search_root: str | None = None
        self._load_error = ""
        self._pending_data = None  # (request, config, data) that arrived before attach()
        self.controller = None  # the TrainingController, from attach()
        self.undo_stack = new_undo_stack(self)  # the main window gives its own (Edit ▸ Undo) in attach()
        self._started_at = 0.0
        self.state = "idle"
        self._build()
        if loader is not None:
            loader.loading.connect(self._on_loading)
            loader.loaded.connect(self._on_loaded)
            loader.failed.connect(self._on_load_failed)
        if workspace is not None:
            self.attach(workspace)
        self._update_controls()

    # ------------------------------------------------------------------------------------------ build
    def _build(self) -> None:
        m, t = ModelConfig(), TrainConfig()
        # data
        self.dataset = ElidedComboBox(min_chars=10)  # long titles are shortened; the tooltip shows them whole
        self.dataset.addItem(SPRITES_TITLE, "sprites")
        self.dataset.setToolTip("The data set to train on; greyed-out ones were not found here (hover for why)")
        self.dataset.activated.connect(self._on_dataset_chosen)
        self.find_data = QPushButton("Look in…")
        self.find_data.setToolTip("Choose a folder to look for MNIST-family and CIFAR-10 files in")
        self.find_data.clicked.connect(self._choose_search_root)
        self.path = QLineEdit()
        self.path.setPlaceholderText("choose a folder or .npz file")
        self.path.setReadOnly(True)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose_path)
        self.binarize = QCheckBox("Binarize")
        self.binarize.setToolTip("Train on random black/white draws of each image (the literature's MNIST)")
        self.binarize.toggled.connect(self._request_data)
        self.folder_size = _spin(8, 256, DataConfig().image_size, "Image folders: images are resized and "
                                 "centre-cropped to this square size (pixels)", 4, what="Image size")
        self.folder_size.valueChanged.connect(self._request_data)
        self.folder_gray = QCheckBox("Greyscale")
        self.folder_gray.setChecked(True)
        self.folder_gray.setToolTip("Image folders: convert to one channel")
        self.folder_gray.toggled.connect(self._request_data)
        # model
        self.kind = ElidedComboBox(min_chars=8)
        self.kind.addItem("VAE", "vae")
        self.kind.addItem("Conditional VAE", "cvae")
        self.kind.setToolTip("A conditional VAE also sees the class label (needs a labelled data set)")
        self.arch = ElidedComboBox(min_chars=8)
        self.arch.setToolTip("MLP: fully connected layers; convolutional: conv layers, then one fully connected "
                             "layer")
        self.arch.addItem("MLP (fully connected)", "mlp")
        self.arch.addItem("Convolutional", "conv")
        self.latent = _spin(1, 512, m.latent_dim, "Number of latent dimensions (z)", what="Latent size")
        self.hidden = QLineEdit(",".join(map(str, m.hidden)))
        self.hidden.setToolTip("MLP: hidden layer sizes, comma-separated (e.g. 512,256).\n"
                               "Convolutional: the size of the fully connected layer after the convolutions.")
        # loss
        self.beta = _dspin(0.0, BETA_MAX, t.beta, 3, 0.1, "beta: weight on the KL term (1 = the true ELBO; "
                           "larger values push towards disentangled, blurrier codes)", what="β")
        self.beta_slider = QSlider(Qt.Orientation.Horizontal)
        self.beta_slider.setRange(0, BETA_SLIDER)
        self.beta_slider.setValue(beta_to_slider(t.beta))
        self.beta_slider.setToolTip("beta on a log scale: 0, then 0.001 … 100")
        self.beta.valueChanged.connect(self._beta_from_spin)
        self.beta_slider.valueChanged.connect(self._beta_from_slider)
        self.gamma = _dspin(0.0, 1000.0, t.gamma, 3, 0.1, "gamma: weight on the reconstruction term", what="γ")
        self.recon = ElidedComboBox(min_chars=8)
        self.recon.addItem("BCE (Bernoulli)", "bce")
        self.recon.addItem("MSE (Gaussian)", "mse")
        self.recon.setToolTip("Reconstruction loss, summed over pixels")
        self.warmup = _spin(0, 10000, t.kl_warmup_epochs, "beta ramps up linearly from 0 over this many epochs",
                            what="KL warm-up")
        # optimisation
        self.lr = _dspin(1e-6, 1.0, t.lr, 6, 1e-4, "Adam learning rate", what="Learning rate")
        self.batch = _spin(1, 65536, t.batch_size, "Images per training step", 16, what="Batch size")
        self.epochs = _spin(1, 100000, t.epochs, "Passes over the training split", what="Epochs")
        self.seed = _spin(0, 2**31 - 1, t.seed, "Random seed: same settings and seed give the same run",
                          what="Seed")
        self.grad_clip = _dspin(0.0, 1e6, t.grad_clip, 2, 1.0, "Largest gradient norm (0 = no clipping)",
                                what="Gradient clip")
        for box in (self.folder_size, self.latent, self.beta, self.gamma, self.warmup, self.lr, self.batch,
                    self.epochs, self.seed, self.grad_clip):
            box.clamped.connect(self._on_value_clamped)
        self.device = ElidedComboBox(min_chars=8)
        self.device.addItem("CPU", "cpu")
        self.device.setToolTip("Where the model trains")
        for w in (self.kind, self.arch, self.recon, self.device):
            w.currentIndexChanged.connect(self._update_controls)
        for w in (self.latent, self.warmup, self.batch, self.epochs, self.seed):
            w.valueChanged.connect(self._update_controls)
        for w in (self.gamma, self.lr, self.grad_clip):
            w.valueChanged.connect(self._update_controls)
        self.hidden.textChanged.connect(self._update_controls)

        form_data = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.dataset, 1)
        row.addWidget(self.find_data)
        form_data.addRow("Data set", row)
        self.path_row = QWidget()
        pr = QHBoxLayout(self.path_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.path, 1)
        pr.addWidget(self.browse)
        form_data.addRow("Path", self.path_row)
        self._form_data = form_data
        self.folder_row = QWidget()
        fr = QHBoxLayout(self.folder_row)
        fr.setContentsMargins(0, 0, 0, 0)
        fr.addWidget(self.folder_size)
        fr.addWidget(QLabel("px"))
        fr.addWidget(self.folder_gray)
        fr.addStretch(1)
        form_data.addRow("Image size", self.folder_row)
        form_data.addRow("", self.binarize)
        form_model = QFormLayout()
        form_model.addRow("Model", self.kind)
        form_model.addRow("Architecture", self.arch)
        form_model.addRow("Latent size", self.latent)
        form_model.addRow("Hidden sizes", self.hidden)
        form_loss = QFormLayout()
        brow = QHBoxLayout()
        brow.addWidget(self.beta)
        brow.addWidget(self.beta_slider, 1)
        form_loss.addRow("β (KL weight)", brow)
        form_loss.addRow("γ (recon weight)", self.gamma)
        form_loss.addRow("Reconstruction", self.recon)
        form_loss.addRow("KL warm-up (epochs)", self.warmup)
        self.next_run_note = hint_label("Settings apply to the next run: press Start, or Retrain to compare.",
                                        "A run keeps the settings it was started with; change beta here and "
                                        "press Retrain to train a new run beside the old one.")
        self.next_run_note.setWordWrap(True)
        form_loss.addRow(self.next_run_note)
        form_opt = QFormLayout()
        form_opt.addRow("Learning rate", self.lr)
        form_opt.addRow("Batch size", self.batch)
        form_opt.addRow("Epochs", self.epochs)
        form_opt.addRow("Seed", self.seed)
        form_opt.addRow("Gradient clip", self.grad_clip)
        form_opt.addRow("Training device", self.device)

        settings = QWidget()
        sl = QVBoxLayout(settings)
        sl.setContentsMargins(0, 0, 4, 0)
        for title, form in (("Data", form_data), ("Model", form_model), ("Loss", form_loss),
                            ("Optimisation", form_opt)):
            box = QGroupBox(title)
            box.setLayout(form)
            sl.addWidget(box)
        sl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(settings)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth()
        scroll.setMinimumWidth(settings.minimumSizeHint().width() + bar)
        self._settings_scroll = scroll

        self.validation = QLabel()
        self.validation.setWordWrap(True)
        self.validation.setStyleSheet("color: #b00020")
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train a new run with these settings")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume the running run")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training; the run keeps what it has learnt so far")
        self.stop_button.clicked.connect(self.stop)
        self.retrain_button = QPushButton("Retrain")
        self.retrain_button.setToolTip("Train a new run with the current settings (e.g. after changing beta); "
                                       "earlier runs stay in the list. Stops a running run first.")
        self.retrain_button.clicked.connect(self.retrain)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.retrain_button):
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance("Resume") + 16)  # the style's least is 80 px
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(scroll, 1)
        ll.addWidget(self.validation)
        ll.addLayout(buttons)
        ll.addWidget(self.progress)
        ll.addWidget(self.message)

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
        self._show_path_rows()

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
        workspace.dataChanged.connect(self._on_data_changed)
        for run in workspace.runs:
            self._on_run_added(run)
        if workspace.data is not None:
            self._on_data_changed(workspace.data)
        if self._pending_data is not None:
            request, cfg, data = self._pending_data
            self._pending_data = None
            self._on_loaded(request, cfg, data)
        self._update_controls()

    def _fill_datasets(self) -> None:
        from ...core.data import list_datasets

        current = self.dataset.currentData()
        extra = [(self.dataset.itemText(i), self.dataset.itemData(i)) for i in range(self.dataset.count())
                 if str(self.dataset.itemData(i)).startswith("memory:")]
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for info in list_datasets(self._search_root):
            self.dataset.addItem(info.title if info.available else f"{info.title} (not found)", info.name)
            i = self.dataset.count() - 1
            self.dataset.setItemData(i, info.needs_path, Qt.ItemDataRole.UserRole + 1)
            if not info.available:
                self.dataset.model().item(i).setEnabled(False)
                self.dataset.setItemData(i, info.reason, Qt.ItemDataRole.ToolTipRole)
            else:
                self.dataset.setItemData(i, info.title, Qt.ItemDataRole.ToolTipRole)
        for text, name in extra:
            self.dataset.addItem(text, name)
        i = self.dataset.findData(current)
        self.dataset.setCurrentIndex(max(i, 0))
        self.dataset.blockSignals(False)
        self._show_path_rows()

    # ------------------------------------------------------------------------------------------ data
    def load_data(self, cfg: DataConfig) -> int | None:
        """Load ``cfg`` in the background and make it the workspace's data set; returns the request id."""
        self._show_data_config(cfg)
        if self.loader is None:
            return None
        self._data_request = self.loader.load(cfg)
        self._update_controls()
        return self._data_request

    def _show_data_config(self, cfg: DataConfig) -> None:
        for w in (self.dataset, self.binarize, self.folder_size, self.folder_gray):
            w.blockSignals(True)
        i = self.dataset.findData(cfg.dataset)
        if i >= 0:
            self.dataset.setCurrentIndex(i)
        if cfg.dataset in ("folder", "npz"):
            self.path.setText(cfg.root or "")
        elif cfg.root:
            self._search_root = cfg.root
        self.binarize.setChecked(cfg.binarize)
        self.folder_size.setValue(cfg.image_size)
        self.folder_gray.setChecked(cfg.grayscale)
        for w in (self.dataset, self.binarize, self.folder_size, self.folder_gray):
            w.blockSignals(False)
        self._show_path_rows()

    @property
    def data_loading(self) -> bool:
        """Whether a data set the user chose is being loaded."""
        return self._data_request is not None

    def chosen_data_config(self) -> DataConfig | None:
        """The data set the controls describe (None for an in-memory one)."""
        name = str(self.dataset.currentData())
        if name.startswith("memory:"):
            return self.data_config
        needs_path = name in ("folder", "npz")
        root = (self.path.text() or None) if needs_path else self._search_root
        folder = name == "folder"
        base = DataConfig()
        return DataConfig(dataset=name, root=root, binarize=self.binarize.isChecked(),
                          image_size=self.folder_size.value() if folder else base.image_size,
                          grayscale=self.folder_gray.isChecked() if folder else base.grayscale)

    def _on_dataset_chosen(self, _index=None) -> None:
        self._show_path_rows()
        name = str(self.dataset.currentData())
        if name in ("folder", "npz") and not self.path.text():
            self._choose_path()
            return
        self._request_data()

    def _choose_path(self) -> None:
        name = self.dataset.currentData()
        if name == "npz":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a .npz file", self.path.text(),
                                                  "NumPy arrays (*.npz)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose an image folder (subfolders = classes)",
                                                    self.path.text())
        if path:
            self.path.setText(path)
            self._request_data()
        else:
            self._update_controls()

    def _choose_search_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Look for data sets in", self._search_root or "")
        if path and self.workspace is not None:
            self._search_root = path
            self._fill_datasets()
            self._update_controls()

    def _show_path_rows(self) -> None:
        name = str(self.dataset.currentData())
        self._form_data.setRowVisible(self.path_row, name in ("folder", "npz"))
        self._form_data.setRowVisible(self.folder_row, name == "folder")

    @Slot()
    def _request_data(self, *_):
        cfg = self.chosen_data_config()
        if cfg is None or (cfg.dataset in ("folder", "npz") and not cfg.root):
            self._update_controls()
            return
        if cfg == self.data_config and self._data_request is None:
            self._update_controls()
            return
        self.load_data(cfg)

    @Slot(int, object)
    def _on_loading(self, request, cfg) -> None:
        self._data_request = request
        self._set_state(f"loading {cfg.dataset}…")
        self._update_controls()

    @Slot(int, object, object)
    def _on_loaded(self, request, cfg, data) -> None:
        if request != self._data_request:
            return
        if self.workspace is None:  # torch became ready but the window has not attached yet
            self._pending_data = (request, cfg, data)
            return
        self._data_request = None
        self.data_config = cfg
        self._loaded_data_id = id(data)
        self.workspace.set_data(data)
        self._set_state("idle")
        self._update_controls()
        self.dataLoaded.emit(request)

    @Slot(int, object, str)
    def _on_load_failed(self, request, cfg, message) -> None:
        if request != self._data_request:
            return
        self._data_request = None
        name = cfg.dataset if cfg is not None else "the data set"
        self._load_error = f"Could not load {name}: {message}"
        self._set_state("idle")
        self._update_controls()
        self.dataFailed.emit(request, message)

    @Slot(object)
    def _on_data_changed(self, data) -> None:
        if data is not None and id(data) != self._loaded_data_id:  # set by a program (tests, scripts)
            self._loaded_data_id = id(data)
            self.data_config = DataConfig(dataset=data.name)
            key = f"memory:{data.name}"
            i = self.dataset.findData(data.name)
            if i < 0:
                i = self.dataset.findData(key)
                if i < 0:
                    self.dataset.addItem(f"{data.name} (in memory)", key)
                    i = self.dataset.count() - 1
            self.dataset.setCurrentIndex(i)
            self._show_path_rows()
        self._load_error = ""
        self._update_controls()

    # ------------------------------------------------------------------------------------------ config
    def current_config(self) -> RunConfig:
        """A RunConfig from the controls (not validated; model shape from the current data set)."""
        try:
            hidden = [int(v) for v in self.hidden.text().replace(" ", "").split(",") if v]
        except ValueError:
            raise ConfigError("hidden sizes must be comma-separated whole numbers, e.g. 512,256") from None
        data = self.data_config or self.chosen_data_config() or DataConfig()
        model = ModelConfig(kind=self.kind.currentData(), arch=self.arch.currentData(),
                            latent_dim=self.latent.value(), hidden=hidden)
        d = self.workspace.data if self.workspace is not None else None
        if d is not None:
            model.image_size, model.channels, model.num_classes = d.image_size, d.channels, d.num_classes
        train = TrainConfig(beta=self.beta.value(), gamma=self.gamma.value(), recon=self.recon.currentData(),
                            kl_warmup_epochs=self.warmup.value(), lr=self.lr.value(), batch_size=self.batch.value(),
                            epochs=self.epochs.value(), seed=self.seed.value(),
                            device=self.device.currentData() or "cpu", grad_clip=self.grad_clip.value())
        return RunConfig(data=DataConfig(**vars(data)), model=model, train=train)

    def set_config(self, cfg: RunConfig) -> None:
        """Show a run's settings in the controls (its data set is not reloaded)."""
        m, t = cfg.model, cfg.train
        self.kind.setCurrentIndex(max(self.kind.findData(m.kind), 0))
        self.arch.setCurrentIndex(max(self.arch.findData(m.arch), 0))
        self.latent.setValue(m.latent_dim)
        self.hidden.setText(",".join(map(str, m.hidden)))
        self.beta.setValue(t.beta)
        self.gamma.setValue(t.gamma)
        self.recon.setCurrentIndex(max(self.recon.findData(t.recon), 0))
        self.warmup.setValue(t.kl_warmup_epochs)
        self.lr.setValue(t.lr)
        self.batch.setValue(t.batch_size)
        self.epochs.setValue(t.epochs)
        self.seed.setValue(t.seed)
        self.grad_clip.setValue(t.grad_clip)
        i = self.device.findData(t.device)
        if i >= 0 and self.device.model().item(i).isEnabled():
            self.device.setCurrentIndex(i)

    def reset_settings(self) -> None:
        """Default settings for a new run (the data set stays)."""
        self.set_config(RunConfig())
        self.device.setCurrentIndex(0)

    def problem(self) -> str:
        """Why Start is disabled ('' when it is not)."""
        if self.workspace is None:
            return "Loading PyTorch…"
        if self._data_request is not None:
            name = self.dataset.currentText() or "the data set"
            return f"Loading {name.split(' (')[0]}…"
        if self._load_error:
            return self._load_error
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

    def _launch(self, command) -> None:
        why = self.problem()
        if why or command is None:
            self.validation.setText(why)
            return
        config = self.current_config()
        self.message.setText("")
        self.progress.setRange(0, max(1, config.train.epochs))
        self.progress.setValue(0)
        self.progress.setFormat("building the model…")
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
        self.progress.setRange(0, p.total_steps)
        self.progress.setValue(p.step)
        self.progress.setFormat(f"epoch {p.epoch}/{p.epochs} · step {p.step_in_epoch}/{p.steps_per_epoch} · "
                                f"{format_seconds(p.seconds_left)} left")
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
    def _beta_from_spin(self, value: float) -> None:
        self.beta_slider.blockSignals(True)
        self.beta_slider.setValue(beta_to_slider(value))
        self.beta_slider.blockSignals(False)
        self._update_controls()

    def _beta_from_slider(self, pos: int) -> None:
        self.beta.blockSignals(True)
        self.beta.setValue(slider_to_beta(pos))
        self.beta.blockSignals(False)
        self._update_controls()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    @Slot(str)
    def _on_value_clamped(self, text: str) -> None:
        self._show_message(text, error=True)  # a typed value was out of range: say what was used instead

    @Slot(str, bool)
    def _show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020; font-weight: bold" if error else "color: #2e7d32")
        self.message.setText(text)
        if self.workspace is not None:
            self.workspace.show_message(text)

    @Slot()
    def _update_controls(self, *_):
        why = self.problem()
        self.validation.setText(why)
        self.validation.setVisible(bool(why))
        c = self.controller
        training = c is not None and c.training
        stoppable = training and not c.stop_requested
        self.start_button.setEnabled(not why and not training)
        self.start_button.setToolTip(why or "Train a new run with these settings")
        self.retrain_button.setEnabled(not why and (training or bool(self.workspace and self.workspace.runs)))
        self.pause_button.setEnabled(stoppable)
        self.pause_button.setText("Resume" if training and c.paused_by_user else "Pause")
        self.stop_button.setEnabled(stoppable)
        busy = self._data_request is not None
        for w in (self.dataset, self.browse, self.binarize, self.find_data):
            w.setEnabled(not busy and self.workspace is not None)
