"""The runs of the workspace in a table: key settings and final test loss; multi-select to overlay curves; the
current row is the workspace's selected run; runs can be saved as run folders or removed."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from ..widgets.compact import hint_label
from ..widgets.variant_names import beta_text, model_title

COLUMNS = ("Run", "Status", "Model", "Arch", "z", "β", "γ", "Recon", "Epochs", "Test loss", "−ELBO")
TOOLTIPS = {
    "Model": "the model variant (as in the Model list of the settings)",
    "Arch": "MLP (fully connected) or CONV (convolutional)",
    "z": "latent dimensions",
    "β": "beta: weight on the KL term (1 = the true ELBO; — for a variant whose own settings weight its loss)",
    "γ": "gamma: weight on the reconstruction term",
    "Recon": "reconstruction loss: BCE (Bernoulli) or MSE (Gaussian)",
    "Epochs": "epochs done / planned",
    "Test loss": "the training objective (gamma·recon + beta·KL) on the test split, last epoch, nats per image",
    "−ELBO": "negative ELBO (recon + KL) on the test split, last epoch, nats per image: comparable across betas",
}
BUSY = ("running", "paused")
# columns hidden first, one by one, while the table is too narrow to show them all (the row's tooltip still
# says everything): gamma, reconstruction loss, architecture, model kind, latent size, epochs
HIDE_ORDER = (6, 7, 3, 2, 4, 8)
NAME_MIN_CHARS = 8  # the run name column keeps at least this many characters before columns are hidden


def suggest_name(run) -> str:
    """A folder name that says what the run is, e.g. ``sprites-vae-mlp-z10-beta4-bce``."""
    c = run.config
    return (f"{c.data.dataset}-{c.model.kind}-{c.model.arch}-z{c.model.latent_dim}-beta{c.train.beta:g}"
            f"-{c.train.recon}").replace("/", "_")


def default_runs_dir() -> str:
    last = QSettings().value("runs/lastDir", "", type=str)
    if last and Path(last).is_dir():
        return last
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    return str(Path(docs) / "VAE Studio runs")


def save_run_dialog(parent, run) -> Path | None:
    """Ask where to save ``run`` (a folder name suggested from its settings) and save it; messages on error."""
    if run.history.status in BUSY:
        QMessageBox.information(parent, "Save run", f"{run.name} is still training. Stop it or let it finish "
                                "before saving it.")
        return None
    start = str(Path(default_runs_dir()) / suggest_name(run))
    path, _ = QFileDialog.getSaveFileName(parent, f"Save {run.name} as a run folder", start,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    if not path:
        return None
    folder = Path(path)
    if folder.is_file():
        QMessageBox.warning(parent, "Save run", f"{folder} is a file; choose a name for a new folder.")
        return None
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / "config.json").is_file():
            QMessageBox.warning(parent, "Save run", f"{folder} already exists and is not a VAE Studio run "
                                "folder; choose another name.")
            return None
        answer = QMessageBox.question(parent, "Save run", f"Replace the run saved in {folder}?")
        if answer != QMessageBox.StandardButton.Yes:
            return None
    from ...core.checkpoint import save_run

    try:
        save_run(run, folder)
    except OSError as e:
        QMessageBox.warning(parent, "Save run", f"Could not save {run.name} to {folder}: {e.strerror or e}")
        return None
    QSettings().setValue("runs/lastDir", str(folder.parent))
    return folder


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


class RunsList(QWidget):
    shownRunsChanged = Signal(object)  # list of runs whose curves to overlay
    currentRunChanged = Signal(object)  # Run | None: the row the user made current
    saved = Signal(object, object)  # Run, Path
    renameRequested = Signal(object, str)  # run, the name the user typed in its row

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runsList")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        header = self.tree.headerItem()
        for i, name in enumerate(COLUMNS):
            if name in TOOLTIPS:
                header.setToolTip(i, TOOLTIPS[name])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the name takes what is left (elided)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.viewport().installEventFilter(self)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.empty = QLabel("No runs yet: press Start to train one, or File ▸ Open run folder.")
        self.empty.setStyleSheet("color: gray")
        self.empty.setWordWrap(True)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the current run as a run folder (config, weights, history)")
        self.save_button.clicked.connect(self.save_current)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected runs from this workspace (their saved folders stay)")
        self.remove_button.clicked.connect(self._remove_selected)
        hint = hint_label("Ctrl/Shift-click: overlay several runs' curves",
                          "Select several runs (Ctrl- or Shift-click) to overlay their curves; the current row is "
                          "the run the other panels show")
        buttons = QHBoxLayout()
        buttons.addWidget(hint, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.remove_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        self._items: dict[int, QTreeWidgetItem] = {}
        self._runs: dict[int, object] = {}
        self._quiet = False
        self.remove_requested = None  # callable(runs) set by the owner
        self._update_empty()

    # -- rows ----------------------------------------------------------------------------------------
    def add_run(self, run, colour: str, select: bool = True) -> None:
        if run.id in self._items:
            return
        item = QTreeWidgetItem()
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)  # the name (column 0): double-click or F2
        pix = QPixmap(12, 12)
        pix.fill(QColor(colour))
        item.setIcon(0, QIcon(pix))
        self._items[run.id] = item
        self._runs[run.id] = run
        self.tree.addTopLevelItem(item)
        self.update_run(run)
        if select:  # the new run is shown beside the one that was current (to compare), not beside all
            current = self.tree.currentItem()
            self._quiet = True
            self.tree.clearSelection()
            if current is not None:
                current.setSelected(True)
            item.setSelected(True)
            self.tree.setCurrentItem(item, 0, _no_clear())
            self._quiet = False
            self._on_selection()
        self._update_empty()

    def remove_run(self, run) -> None:
        item = self._items.pop(run.id, None)
        self._runs.pop(run.id, None)
        if item is not None:
            self._quiet = True
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
            self._quiet = False
            self._on_selection()
        self._update_empty()

    def update_run(self, run) -> None:
        item = self._items.get(run.id)
        if item is None:
            return
        c, h = run.config, run.history
        last = h.last or {}
        values = (run.name, h.status, model_title(c.model), c.model.arch.upper(), str(c.model.latent_dim),
                  beta_text(c), f"{c.train.gamma:g}", c.train.recon.upper(),
                  f"{len(h.epochs)}/{c.train.epochs}", _fmt(last.get("test_total")), _fmt(last.get("test_neg_elbo")))
        quiet, self._quiet = self._quiet, True
        for i, v in enumerate(values):
            item.setText(i, v)
        self._quiet = quiet
        tip = (f"{run.name}: {model_title(c.model)}, {c.model.arch.upper()}, z={c.model.latent_dim}, "
               f"β={beta_text(c)}, γ={c.train.gamma:g}, {c.train.recon.upper()}, {len(h.epochs)} of "
               f"{c.train.epochs} epochs\n{c.data.dataset}, hidden {c.model.hidden}, lr {c.train.lr:g}, "
               f"batch {c.train.batch_size}")
        if run.folder:
            tip += f"\nsaved in {run.folder}"
        if h.message:
            tip += f"\n{h.message}"
        for i in range(len(COLUMNS)):
            item.setToolTip(i, tip)
        item.setToolTip(1, h.message or h.status)
        self._fit_columns()

    def set_current(self, run) -> None:
        """Follow the workspace's selected run (without clearing a multi-selection)."""
        item = self._items.get(run.id) if run is not None else None
        if item is None or item is self.tree.currentItem():
            return
        self._quiet = True
        item.setSelected(True)
        self.tree.setCurrentItem(item, 0, _no_clear())
        self._quiet = False
        self._on_selection()

    def select_runs(self, runs) -> None:
        """Select exactly these runs (their curves are overlaid)."""
        self._quiet = True
        self.tree.clearSelection()
        for run in runs:
            item = self._items.get(run.id)
            if item is not None:
                item.setSelected(True)
        self._quiet = False
        self._on_selection()

    def shown_runs(self) -> list:
        return [self._runs[rid] for rid, item in self._items.items() if item.isSelected()]

    def current_run(self):
        item = self.tree.currentItem()
        for rid, it in self._items.items():
            if it is item:
                return self._runs[rid]
        return None

    # -- actions -------------------------------------------------------------------------------------
    def save_current(self) -> None:
        run = self.current_run()
        if run is None:
            return
        folder = save_run_dialog(self, run)
        if folder is not None:
            self.update_run(run)
            self.saved.emit(run, folder)

    def _remove_selected(self) -> None:
        runs = self.shown_runs() or ([self.current_run()] if self.current_run() else [])
        if runs and self.remove_requested is not None:
            self.remove_requested(runs)

    def _on_item_changed(self, item, column: int) -> None:
        if self._quiet or column != 0:
            return
        run = next((self._runs[rid] for rid, it in self._items.items() if it is item), None)
        if run is None:
            return
        name = item.text(0)
        quiet, self._quiet = self._quiet, True
        item.setText(0, run.name)  # the workspace renames it (undoably); the row follows its signal
        self._quiet = quiet
        if name.strip() and name.strip() != run.name:
            self.renameRequested.emit(run, name.strip())

    # -- internals -----------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        # only a change of width matters (a height change, e.g. a scroll bar coming or going, used to refit
        # the columns in a loop thousands of times a second)
        if obj is self.tree.viewport() and event.type() == QEvent.Type.Resize \
                and event.size().width() != event.oldSize().width():
            self._fit_columns()
        return super().eventFilter(obj, event)

    def _fit_columns(self) -> None:
        """Show every column when they fit; when the table is narrow, hide the least useful ones first
        (HIDE_ORDER) rather than scroll the numbers out of sight."""
        header = self.tree.header()
        widths = [max(header.sectionSizeHint(i), self.tree.sizeHintForColumn(i)) for i in range(len(COLUMNS))]
        name = min(widths[0], self.tree.fontMetrics().averageCharWidth() * NAME_MIN_CHARS + 24)
        total = name + sum(widths[1:])
        avail = self.tree.viewport().width()
        hidden = set()
        for col in HIDE_ORDER:
            if total <= avail:
                break
            hidden.add(col)
            total -= widths[col]
        for i in range(len(COLUMNS)):
            if self.tree.isColumnHidden(i) != (i in hidden):
                self.tree.setColumnHidden(i, i in hidden)

    def _on_selection(self) -> None:
        if not self._quiet:
            self.shownRunsChanged.emit(self.shown_runs())

    def _on_current(self, current, _previous) -> None:
        if not self._quiet:
            self.currentRunChanged.emit(self.current_run())

    def _update_empty(self) -> None:
        has = bool(self._items)
        self.empty.setVisible(not has)
        self.save_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        self._fit_columns()


def _no_clear():
    from PySide6.QtCore import QItemSelectionModel

    return QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
