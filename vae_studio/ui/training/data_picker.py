"""The Data group of the training panel: which data set, where its files are, binarisation, image-folder
options. It only describes a choice (:meth:`DataPicker.chosen_config`) and says when the user made one
(``requested``); loading is the data controller's work."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from ...core.config import DataConfig
from ..widgets.compact import ElidedComboBox
from ..widgets.spin_boxes import spin

SPRITES_TITLE = "Sprites (built-in, 32x32, 46,080 images)"
MEMORY = "memory:"  # item data prefix of a data set a program put into the workspace (tests, scripts)


class DataPicker(QGroupBox):
    requested = Signal()  # the user chose a data set (or changed its options): load chosen_config()
    searchRootChosen = Signal(str)  # "Look in…": list the data sets found in this folder
    clamped = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Data", parent)
        self.search_root: str | None = None
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
        self.binarize.toggled.connect(self.requested)
        self.folder_size = spin(8, 256, DataConfig().image_size, "Image folders: images are resized and "
                                "centre-cropped to this square size (pixels)", 4, what="Image size")
        self.folder_size.valueChanged.connect(self.requested)
        self.folder_size.clamped.connect(self.clamped)
        self.folder_gray = QCheckBox("Greyscale")
        self.folder_gray.setChecked(True)
        self.folder_gray.setToolTip("Image folders: convert to one channel")
        self.folder_gray.toggled.connect(self.requested)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.dataset, 1)
        row.addWidget(self.find_data)
        form.addRow("Data set", row)
        self.path_row = QWidget()
        pr = QHBoxLayout(self.path_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.path, 1)
        pr.addWidget(self.browse)
        form.addRow("Path", self.path_row)
        self.folder_row = QWidget()
        fr = QHBoxLayout(self.folder_row)
        fr.setContentsMargins(0, 0, 0, 0)
        fr.addWidget(self.folder_size)
        fr.addWidget(QLabel("px"))
        fr.addWidget(self.folder_gray)
        fr.addStretch(1)
        form.addRow("Image size", self.folder_row)
        form.addRow("", self.binarize)
        self._form = form
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        self._show_path_rows()

    # -- the choice ----------------------------------------------------------------------------------
    def chosen_config(self, in_memory: DataConfig | None = None) -> DataConfig | None:
        """The data set the controls describe (``in_memory`` for a data set a program put in the workspace)."""
        name = str(self.dataset.currentData())
        if name.startswith(MEMORY):
            return in_memory
        needs_path = name in ("folder", "npz")
        root = (self.path.text() or None) if needs_path else self.search_root
        folder = name == "folder"
        base = DataConfig()
        return DataConfig(dataset=name, root=root, binarize=self.binarize.isChecked(),
                          image_size=self.folder_size.value() if folder else base.image_size,
                          grayscale=self.folder_gray.isChecked() if folder else base.grayscale)

    def show_config(self, cfg: DataConfig) -> None:
        """Show ``cfg`` in the controls (without asking for it to be loaded)."""
        widgets = (self.dataset, self.binarize, self.folder_size, self.folder_gray)
        for w in widgets:
            w.blockSignals(True)
        i = self.dataset.findData(cfg.dataset)
        if i >= 0:
            self.dataset.setCurrentIndex(i)
        if cfg.dataset in ("folder", "npz"):
            self.path.setText(cfg.root or "")
        elif cfg.root:
            self.search_root = cfg.root
        self.binarize.setChecked(cfg.binarize)
        self.folder_size.setValue(cfg.image_size)
        self.folder_gray.setChecked(cfg.grayscale)
        for w in widgets:
            w.blockSignals(False)
        self._show_path_rows()

    def show_in_memory(self, name: str) -> None:
        """A data set that was not loaded from the list (a program set it): select it, adding it if needed."""
        i = self.dataset.findData(name)
        if i < 0:
            i = self.dataset.findData(MEMORY + name)
            if i < 0:
                self.dataset.addItem(f"{name} (in memory)", MEMORY + name)
                i = self.dataset.count() - 1
        self.dataset.setCurrentIndex(i)
        self._show_path_rows()

    def fill(self, infos) -> None:
        """The data sets found (``core.data.list_datasets``); absent ones greyed out with the reason."""
        current = self.dataset.currentData()
        extra = [(self.dataset.itemText(i), self.dataset.itemData(i)) for i in range(self.dataset.count())
                 if str(self.dataset.itemData(i)).startswith(MEMORY)]
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for info in infos:
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

    def set_busy(self, busy: bool) -> None:
        for w in (self.dataset, self.browse, self.binarize, self.find_data):
            w.setEnabled(not busy)

    # -- the user's actions ----------------------------------------------------------------------------
    def _on_dataset_chosen(self, _index=None) -> None:
        self._show_path_rows()
        name = str(self.dataset.currentData())
        if name in ("folder", "npz") and not self.path.text():
            self._choose_path()
            return
        self.requested.emit()

    def _choose_path(self) -> None:
        if self.dataset.currentData() == "npz":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a .npz file", self.path.text(),
                                                  "NumPy arrays (*.npz)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose an image folder (subfolders = classes)",
                                                    self.path.text())
        if path:
            self.path.setText(path)
        self.requested.emit()

    def _choose_search_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Look for data sets in", self.search_root or "")
        if path:
            self.search_root = path
            self.searchRootChosen.emit(path)

    def _show_path_rows(self) -> None:
        name = str(self.dataset.currentData())
        self._form.setRowVisible(self.path_row, name in ("folder", "npz"))
        self._form.setRowVisible(self.folder_row, name == "folder")
