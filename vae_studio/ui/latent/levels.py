"""The level bar of the latent explorer, for a model with several levels of latents (a hierarchical VAE): which
level the scatter shows and the probe moves, and whether the levels below it are held at their conditional
means or resampled when the probe decodes. Hidden for a latent space without levels (it asks the space's
``level_names``, never the model's kind)."""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QWidget

from ..widgets.compact import ElidedComboBox, FlowLayout, labelled


class LevelBar(QWidget):
    levelChosen = Signal(object, bool)  # level index (bottom = 0), lower levels resampled

    def __init__(self, parent=None):
        super().__init__(parent)
        self.level = ElidedComboBox(min_chars=12)
        self.level.setToolTip("The level of latents the scatter shows, the probe moves and the traversal "
                              "sweeps; the levels above it are at their posterior means for each image")
        self.lower = ElidedComboBox(min_chars=12)
        self.lower.addItem("held at their means", False)
        self.lower.addItem("resampled", True)
        self.lower.setToolTip("When the probe decodes: the levels below the one shown at their conditional "
                              "means given it (what this level decides alone), or drawn from p(z_below | "
                              "probe) with a fixed seed (what the lower levels add)")
        self._lower_box = labelled("Lower levels", self.lower)
        row = FlowLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(labelled("Level", self.level))
        row.addWidget(self._lower_box)
        self.level.currentIndexChanged.connect(self._on_changed)
        self.lower.currentIndexChanged.connect(self._on_changed)
        self.setVisible(False)

    def show_space(self, space) -> None:
        """Offer the levels of ``space`` (a space without levels hides the bar), showing its level and mode."""
        names = space.level_names if space is not None else ()
        self.setVisible(len(names) > 1)
        self.level.blockSignals(True)
        self.lower.blockSignals(True)
        if [self.level.itemText(i) for i in range(self.level.count())] != list(names):
            self.level.clear()
            for i, name in enumerate(names):
                self.level.addItem(name, i)
        if names:
            self.level.setCurrentIndex(space.level)
            self.lower.setCurrentIndex(int(space.resample_lower))
            self._lower_box.setEnabled(space.level > 0)  # the bottom level has nothing below it
        self.level.blockSignals(False)
        self.lower.blockSignals(False)

    @Slot(int)
    def _on_changed(self, _index: int) -> None:
        if self.level.currentIndex() >= 0:
            self.levelChosen.emit(self.level.currentData(), bool(self.lower.currentData()))
